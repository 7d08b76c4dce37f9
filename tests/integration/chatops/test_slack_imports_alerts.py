"""A CSV shared with ``add <campaign>`` is imported in the background with progress and an
error report in the thread; alerts reach the alerts channel."""

from __future__ import annotations

import time
from typing import Any

import pytest

from campaigns import types as t
from chatops.alerts import AlertEvent, AlertKind, AuditAlertSource, MemoryAlertSource
from chatops.app import alert_poster
from storage.repos import CampaignRepo, ContactRepo, NumberRepo, Who
from tests.integration.chatops.conftest import ALERTS, CHANNEL, NOW, OPERATOR, VIEWER, SlackApp

pytestmark = pytest.mark.integration

CSV = (b"phone,name\n"
       b"+1 415 555 0131,Ada\n"
       b"+1 555 0000,Nobody\n"      # invalid: +1 555 is never a real number
       b"(415) 555-0132,Grace\n"
       b"+14155550131,Ada again\n"  # duplicate in the file
       b"<!channel>,Mallory\n")


def _share(slack: SlackApp, text: str, name: str, data: bytes, user: str = OPERATOR,
           filetype: str = "csv", deliveries: int = 1) -> dict[str, Any]:
    url = slack.fake.host_file(name, data)
    event = {"type": "message", "subtype": "file_share", "user": user, "channel": CHANNEL,
             "text": text, "ts": f"{time.time():.6f}",
             "files": [{"id": "F1", "name": name, "title": name, "filetype": filetype,
                        "mimetype": "text/csv", "size": len(data), "url_private": url,
                        "url_private_download": url}]}
    event_id = f"Ev{time.time_ns()}"
    for _ in range(deliveries):  # Slack retries with the same event_id
        assert slack.driver.event(event, event_id=event_id).status == 200
    return event


def _thread_posts(slack: SlackApp, mark: int, ts: str) -> list[str]:
    return [c.params.get("text", "") for c in slack.fake.since(mark)
            if c.method == "chat.postMessage" and c.params.get("thread_ts") == ts]


def test_a_shared_csv_is_imported_with_a_report_in_the_thread(slack: SlackApp) -> None:
    c = slack.campaign("csv")
    mark = slack.fake.mark()
    event = _share(slack, f"<@UBOT0001> add {c.name}", "leads.csv", CSV, deliveries=2)
    download = slack.fake.wait("download", mark)
    assert download.headers["authorization"] == f"Bearer {slack.fake.token}"
    report = slack.fake.wait("chat.postMessage", mark, timeout=20,
                             where=lambda call: "finished" in call.params.get("text", ""))
    assert report.params["thread_ts"] == event["ts"]
    text = report.params["text"]
    assert "2 added" in text and "1 duplicates" in text and "2 rows with errors" in text
    blocks = str(report.params["blocks"])
    assert "line 3:" in blocks and "line 6:" in blocks and "<!channel>" not in blocks
    assert any("Importing `leads.csv`" in p for p in _thread_posts(slack, mark, event["ts"]))
    with slack.sessions() as s:
        phones = sorted(v.phone for v in ContactRepo(s).list(c.id))
    assert phones == ["+14155550131", "+14155550132"]
    assert [call.method for call in slack.fake.since(mark)].count("download") == 1


def test_a_non_operator_cannot_import(slack: SlackApp) -> None:
    c = slack.campaign("csvlocked")
    mark = slack.fake.mark()
    _share(slack, f"add {c.name}", "x.csv", CSV, user=VIEWER)
    refused = slack.fake.wait("chat.postEphemeral", mark)
    assert refused.params["user"] == VIEWER
    time.sleep(0.3)
    assert "download" not in [call.method for call in slack.fake.since(mark)]
    with slack.sessions() as s:
        assert ContactRepo(s).list(c.id) == []


def test_a_broken_file_adds_nothing_and_says_why(slack: SlackApp) -> None:
    c = slack.campaign("csvbad")
    mark = slack.fake.mark()
    _share(slack, f"add {c.name}", "book.csv", b"PK\x03\x04 not really a csv")
    report = slack.fake.wait("chat.postMessage", mark, timeout=20,
                             where=lambda call: "failed" in call.params.get("text", ""))
    assert "Excel" in report.params["text"] and "Nothing was added" in report.params["text"]


def test_other_messages_and_files_are_acked_and_ignored(slack: SlackApp) -> None:
    mark = slack.fake.mark()
    reply = slack.driver.event({"type": "message", "user": VIEWER, "channel": CHANNEL,
                                "text": "hello", "ts": "1.2"})
    assert reply.status == 200
    assert slack.driver.event({"type": "file_shared", "file_id": "F9", "user_id": VIEWER,
                               "channel_id": CHANNEL}).status == 200
    time.sleep(0.3)
    assert [call.method for call in slack.fake.since(mark)
            if call.method.startswith("chat.")] == []


def test_alerts_from_the_audit_log_reach_the_alerts_channel(slack: SlackApp) -> None:
    source = AuditAlertSource(slack.sessions)
    c = slack.campaign("alerting", numbers=("+14155550141",))
    dialer = Who("dialer", "actor:campaign")
    with slack.sessions.begin() as s:
        NumberRepo(s).set_status("+14155550141", t.NumberStatus.EXCLUDED, dialer, NOW,
                                 reason="spam score 9 & rising")
        CampaignRepo(s).set_status(c.id, t.CampaignStatus.PAUSED, dialer, NOW)
        CampaignRepo(s).set_status(c.id, t.CampaignStatus.COMPLETED, dialer, NOW)
        CampaignRepo(s).set_status(c.id, t.CampaignStatus.PAUSED,
                                   Who(f"slack:{OPERATOR}", f"slack:{CHANNEL}"), NOW)
    memory = MemoryAlertSource()
    memory.push(AlertEvent(AlertKind.TRUNK_FAILING, NOW, campaign=c.name,
                           reason="503 from sip:trunk <x>"))
    from dialer.slack_commands import build_slack_app
    from tests.integration.chatops.conftest import settings_for

    app = build_slack_app(settings_for(slack.fake), slack.sessions, lambda: NOW)
    mark = slack.fake.mark()
    assert alert_poster(app, ALERTS, source).run_once() == 3  # a person's pause is no alert
    assert alert_poster(app, ALERTS, memory).run_once() == 1
    posts = [call for call in slack.fake.since(mark) if call.method == "chat.postMessage"]
    assert {call.params["channel"] for call in posts} == {ALERTS}
    texts = [call.params["text"] for call in posts]
    assert "+14155550141 was excluded automatically: spam score 9 &amp; rising" in texts[0]
    assert "paused automatically" in texts[1]
    assert f"Campaign *{c.name}* completed" in texts[2]
    assert "Trunk failing" in texts[3] and "&lt;x&gt;" in texts[3]
    assert source.poll() == []  # each alert once
