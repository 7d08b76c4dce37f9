"""Every ``/dialer`` subcommand through the app's real HTTP endpoint, signed like Slack,
with replies checked at the fake Web API and changes checked in the database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from campaigns import types as t
from storage.repos import AuditRepo, ContactRepo, NumberRepo, Who
from tests.integration.chatops.conftest import (
    CHANNEL,
    NOW,
    OPERATOR,
    OTHER_CHANNEL,
    VIEWER,
    SlackApp,
)
from tests.integration.chatops.fake_slack import Call

pytestmark = pytest.mark.integration

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _text(call: Call) -> str:
    """Everything a person would read in a posted message: fallback and block texts."""
    return str(call.params.get("text", "")) + json.dumps(call.params.get("blocks", []),
                                                    ensure_ascii=False)


def _buttons(call: Call) -> list[dict[str, Any]]:
    out = []
    for block in call.params.get("blocks", []):
        out += [e for e in block.get("elements", []) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            out.append(block["accessory"])
    return out


def _no_post(slack: SlackApp, mark: int, wait_s: float = 0.5) -> list[str]:
    time.sleep(wait_s)
    return [c.method for c in slack.fake.since(mark) if c.method.startswith("chat.")]


def _audit(slack: SlackApp, campaign_id: int, action: str) -> list[Any]:
    with slack.sessions() as s:
        return [e for e in AuditRepo(s).recent(limit=200, entity="campaign")
                if e.entity_id == str(campaign_id) and e.action == action]


# --- read-only commands ------------------------------------------------------------------

def test_help_is_answered_in_the_ack(slack: SlackApp) -> None:
    for text in ("help", ""):
        reply = slack.driver.command(text, user=VIEWER)
        assert reply.status == 200
        body = reply.json()
        assert body["response_type"] == "ephemeral"
        assert "/dialer pause &lt;campaign&gt;" in json.dumps(body["blocks"])
        assert "<campaign>" not in reply.body  # would be read as a link


def test_an_unknown_subcommand_is_explained_and_escaped(slack: SlackApp) -> None:
    reply = slack.driver.command("<!channel>&co please", user=VIEWER)
    assert reply.status == 200
    text = reply.json()["text"]
    assert "/dialer help" in text
    assert "<!channel>" not in reply.body and "`&lt;!channel&gt;&amp;co`" in text


def test_list_shows_every_campaign(slack: SlackApp) -> None:
    a = slack.campaign("alpha", contacts=3)
    b = slack.campaign("beta", status=t.CampaignStatus.PAUSED)
    mark = slack.fake.mark()
    assert slack.driver.command("list", user=VIEWER).status == 200
    call = slack.fake.wait("chat.postMessage", mark)
    assert call.params["channel"] == CHANNEL
    text = _text(call)
    assert a.name in text and b.name in text and "3 contacts" in text


def test_status_of_a_campaign_has_counts_and_a_pause_button(slack: SlackApp) -> None:
    c = slack.campaign("spring", contacts=5, numbers=("+14155550101",))
    mark = slack.fake.mark()
    reply = slack.driver.command(f"status {c.name}", user=VIEWER)
    assert reply.status == 200 and reply.body == ""
    call = slack.fake.wait("chat.postMessage", mark)
    text = _text(call)
    assert "active" in text and "5 contacts" in text and "+14155550101" in text
    assert [(b["action_id"], b["value"]) for b in _buttons(call)] == [("dialer_pause",
                                                                        str(c.id))]


def test_status_without_a_campaign_lists_them_with_toggles(slack: SlackApp) -> None:
    paused = slack.campaign("resting", status=t.CampaignStatus.PAUSED)
    mark = slack.fake.mark()
    slack.driver.command("status", user=VIEWER)
    call = slack.fake.wait("chat.postMessage", mark)
    assert ("dialer_resume", str(paused.id)) in [(b["action_id"], b["value"])
                                                 for b in _buttons(call)]


def test_an_unknown_campaign_suggests_the_closest(slack: SlackApp) -> None:
    c = slack.campaign("zebracampaign")
    typo = c.name.replace("zebra", "zebar")
    mark = slack.fake.mark()
    slack.driver.command(f"status {typo}", user=VIEWER)
    call = slack.fake.wait("chat.postEphemeral", mark)
    assert call.params["user"] == VIEWER
    assert f"There is no campaign `{typo}`" in _text(call)
    assert f"Did you mean `{c.name}`" in _text(call)


def test_numbers_shows_calls_today_spam_and_exclusions(slack: SlackApp) -> None:
    c = slack.campaign("nums", numbers=("+14155550102", "+14155550103"))
    with slack.sessions.begin() as s:
        repo = NumberRepo(s)
        repo.set_spam_score(repo.row("+14155550103").id, 8)
        repo.set_status("+14155550103", t.NumberStatus.EXCLUDED, Who("dialer", "spam"), NOW,
                        reason="spam score 8 <script>")
    mark = slack.fake.mark()
    slack.driver.command(f"numbers {c.name}", user=VIEWER)
    text = _text(slack.fake.wait("chat.postMessage", mark))
    assert "+14155550102" in text and "today 0/100" in text
    assert "spam 8 (red)" in text and "excluded: spam score 8 &lt;script&gt;" in text


def test_dashboard_posts_stats_and_uploads_a_png_heatmap(slack: SlackApp) -> None:
    c = slack.campaign("dash", contacts=4)
    mark = slack.fake.mark()
    slack.driver.command(f"dashboard {c.name}", user=VIEWER)
    post = slack.fake.wait("chat.postMessage", mark)
    text = _text(post)
    assert "Dashboard" in text and "pending" in text and "Answer rates" in text
    slack.fake.wait("files.getUploadURLExternal", mark, timeout=20)
    upload = slack.fake.wait("upload", mark, timeout=20)
    assert upload.body.startswith(PNG_SIGNATURE)
    done = slack.fake.wait("files.completeUploadExternal", mark, timeout=20)
    assert done.params["channel_id"] == CHANNEL
    assert done.params.get("thread_ts")  # in the dashboard message's thread


# --- changes -----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_operators_pause_stops_dialling_and_is_audited(
        make_app: Callable[..., SlackApp], backend: str) -> None:
    slack = make_app(backend)
    c = slack.campaign("live", contacts=2)
    mark = slack.fake.mark()
    reply = slack.driver.command(f"pause {c.name}", user=OPERATOR)
    assert reply.status == 200
    call = slack.fake.wait("chat.postMessage", mark)
    assert slack.status_of(c.id) == "paused"  # the actors dial only active campaigns
    assert f"set *{c.name}* to *paused* (was active)" in call.params["text"]
    assert [b["action_id"] for b in _buttons(call)] == ["dialer_resume"]
    [entry] = _audit(slack, c.id, "campaign.status")[:1]
    assert entry.actor == f"slack:{OPERATOR}" and entry.source == f"slack:{CHANNEL}"
    assert entry.details == {"from": "active", "to": "paused"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_non_operators_pause_is_refused_and_changes_nothing(
        make_app: Callable[..., SlackApp], backend: str) -> None:
    slack = make_app(backend)
    c = slack.campaign("guarded")
    mark = slack.fake.mark()
    reply = slack.driver.command(f"pause {c.name}", user=VIEWER)
    assert reply.status == 200
    assert reply.json()["response_type"] == "ephemeral"
    assert "Only dialer operators" in reply.json()["text"]
    assert _no_post(slack, mark) == []
    assert slack.status_of(c.id) == "active"
    assert [e for e in _audit(slack, c.id, "campaign.status") if e.actor.startswith("slack:")
            ] == []


def test_changes_outside_the_allowed_channels_are_refused(
        make_app: Callable[..., SlackApp]) -> None:
    slack = make_app("sqlite", DIALER_SLACK_CHANNELS=CHANNEL)
    c = slack.campaign("chan")
    reply = slack.driver.command(f"pause {c.name}", user=OPERATOR, channel=OTHER_CHANNEL)
    assert "only allowed in the dialer's channels" in reply.json()["text"]
    assert slack.status_of(c.id) == "active"
    mark = slack.fake.mark()
    slack.driver.command(f"status {c.name}", user=VIEWER, channel=OTHER_CHANNEL)
    slack.fake.wait("chat.postMessage", mark)  # reading is fine anywhere
    slack.driver.command(f"pause {c.name}", user=OPERATOR, channel=CHANNEL)
    slack.fake.wait("chat.postMessage", mark, where=lambda call: "paused" in _text(call))
    assert slack.status_of(c.id) == "paused"


def test_resume_and_illegal_changes(slack: SlackApp) -> None:
    c = slack.campaign("sleepy", status=t.CampaignStatus.PAUSED)
    mark = slack.fake.mark()
    slack.driver.command(f"resume {c.name}")
    slack.fake.wait("chat.postMessage", mark)
    assert slack.status_of(c.id) == "active"
    gone = slack.campaign("gone", status=t.CampaignStatus.CANCELLED)
    mark = slack.fake.mark()
    slack.driver.command(f"resume {gone.name}")
    call = slack.fake.wait("chat.postEphemeral", mark)
    assert "is cancelled; it cannot be active" in _text(call)
    assert slack.status_of(gone.id) == "cancelled"


def test_cancel_asks_first_and_only_the_confirmation_cancels(slack: SlackApp) -> None:
    c = slack.campaign("doomed")
    mark = slack.fake.mark()
    slack.driver.command(f"cancel {c.name}")
    question = slack.fake.wait("chat.postMessage", mark)
    assert "Cancel *" in question.params["text"]
    assert {b["action_id"] for b in _buttons(question)} == {"dialer_cancel_confirm",
                                                           "dialer_cancel_keep"}
    assert slack.status_of(c.id) == "active"
    mark = slack.fake.mark()
    slack.driver.click("dialer_cancel_keep", str(c.id), user=VIEWER,
                       message_ts=question.params.get("ts", "1.1"))
    kept = slack.fake.wait("chat.update", mark)
    assert "Kept" in kept.params["text"] and slack.status_of(c.id) == "active"
    mark = slack.fake.mark()
    slack.driver.click("dialer_cancel_confirm", str(c.id), user=VIEWER)  # not an operator
    refused = slack.fake.wait("chat.postEphemeral", mark)
    assert "Only dialer operators" in _text(refused) and slack.status_of(c.id) == "active"
    mark = slack.fake.mark()
    slack.driver.click("dialer_cancel_confirm", str(c.id), user=OPERATOR,
                       message_ts="1700000000.000777")
    done = slack.fake.wait("chat.update", mark)
    assert done.params["ts"] == "1700000000.000777" and "cancelled" in done.params["text"]
    assert slack.status_of(c.id) == "cancelled"


def test_pause_and_resume_buttons_are_authorised_like_commands(slack: SlackApp) -> None:
    c = slack.campaign("clicky")
    mark = slack.fake.mark()
    reply = slack.driver.click("dialer_pause", str(c.id), user=VIEWER)
    assert reply.status == 200
    refused = slack.fake.wait("chat.postEphemeral", mark)
    assert refused.params["user"] == VIEWER and slack.status_of(c.id) == "active"
    mark = slack.fake.mark()
    slack.driver.click("dialer_pause", str(c.id), user=OPERATOR)
    update = slack.fake.wait("chat.update", mark)
    assert slack.status_of(c.id) == "paused"
    assert [b["action_id"] for b in _buttons(update)] == ["dialer_resume"]
    mark = slack.fake.mark()
    slack.driver.click("dialer_resume", str(c.id), user=OPERATOR)
    slack.fake.wait("chat.update", mark)
    assert slack.status_of(c.id) == "active"
    assert len(_audit(slack, c.id, "campaign.status")) == 2 + 1  # + the seed's activation


def _contacts(slack: SlackApp, campaign_id: int) -> list[Any]:
    with slack.sessions() as s:
        return ContactRepo(s).list(campaign_id)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_add_takes_a_phone_with_spaces_and_a_name(make_app: Callable[..., SlackApp],
                                                   backend: str) -> None:
    slack = make_app(backend)
    c = slack.campaign("adds")
    mark = slack.fake.mark()
    slack.driver.command(f"add {c.name} +1 415 555 0123 Ada Lovelace")
    call = slack.fake.wait("chat.postMessage", mark)
    assert "+14155550123" in call.params["text"] and "(Ada Lovelace)" in call.params["text"]
    [contact] = _contacts(slack, c.id)
    assert (contact.phone, contact.name) == ("+14155550123", "Ada Lovelace")
    assert _audit(slack, c.id, "contacts.add")[0].actor == f"slack:{OPERATOR}"
    mark = slack.fake.mark()
    slack.driver.command(f"add {c.name} <tel:+14155550123|+1 (415) 555-0123>")
    again = slack.fake.wait("chat.postMessage", mark)
    assert "already in" in again.params["text"] and len(_contacts(slack, c.id)) == 1


def test_add_with_a_bad_number_adds_nothing_and_says_why(slack: SlackApp) -> None:
    c = slack.campaign("strict")
    mark = slack.fake.mark()
    slack.driver.command(f"add {c.name} +1 555 0123 Bob")
    call = slack.fake.wait("chat.postEphemeral", mark)
    text = _text(call)
    assert "Nothing was added" in text and "+1 555 0123" in text
    assert "not a valid number" in text or "digits" in text
    assert _contacts(slack, c.id) == []
    assert _audit(slack, c.id, "contacts.add") == []


def test_user_text_cannot_broadcast_or_break_markup(slack: SlackApp) -> None:
    c = slack.campaign("<!channel> & <@U123> @here")
    mark = slack.fake.mark()
    slack.driver.command(f'status "{c.name}"', user=VIEWER)
    call = slack.fake.wait("chat.postMessage", mark)
    raw = _text(call)
    assert "<!channel>" not in raw and "<@U123>" not in raw and "@here" not in raw
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt; @\u200bhere" in raw
    for block in call.params["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def test_long_names_respect_block_kit_limits(slack: SlackApp) -> None:
    c = slack.campaign("x" * 190)
    mark = slack.fake.mark()
    slack.driver.command(f"status {c.name}", user=VIEWER)
    call = slack.fake.wait("chat.postMessage", mark)
    for block in call.params["blocks"]:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
    for button in _buttons(call):
        assert len(button["text"]["text"]) <= 75


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_pause_from_slack_really_stops_the_dial_loop(
        make_app: Callable[..., SlackApp], backend: str) -> None:
    from concurrent.futures import Future

    from actors.campaign_loop import CallResult, CampaignLoop, DialRequest
    from storage.coordination import MemoryStore

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[DialRequest] = []

        def place(self, request: DialRequest) -> Future[CallResult]:
            self.calls.append(request)
            return Future()

    slack = make_app(backend)
    c = slack.campaign("loop", contacts=3, numbers=("+14155550188",))
    placer = Recorder()
    loop = CampaignLoop(c.id, sessions=slack.sessions, store=MemoryStore(), placer=placer,
                        owner="test", trunk_cps=1000.0)
    at = NOW + timedelta(hours=1)
    assert loop.tick(at).placed == 1
    mark = slack.fake.mark()
    assert slack.driver.command(f"pause {c.name}", user=OPERATOR).status == 200
    slack.fake.wait("chat.postMessage", mark)
    for minute in range(1, 6):
        assert loop.tick(at + timedelta(minutes=minute)).placed == 0
    mark = slack.fake.mark()
    assert slack.driver.command(f"resume {c.name}", user=OPERATOR).status == 200
    slack.fake.wait("chat.postMessage", mark)
    assert loop.tick(at + timedelta(minutes=10)).placed == 1
    assert len(placer.calls) == 2


def test_agent_assigns_the_campaigns_voice_agent_for_operators_only(slack: SlackApp) -> None:
    from storage.repos import AgentRepo, CampaignRepo

    c = slack.campaign("agents")
    with slack.sessions.begin() as s:
        AgentRepo(s).create("Ava <b>", Who("t", "test"), NOW, first_message="Hi!")
    mark = slack.fake.mark()
    denied = slack.driver.command(f'agent {c.name} "Ava <b>"', user=VIEWER).json()
    assert denied["response_type"] == "ephemeral"
    assert "operator" in denied["text"].lower()
    assert _no_post(slack, mark) == []
    with slack.sessions() as s:
        assert CampaignRepo(s).get(c.id).agent_id is None
    mark = slack.fake.mark()
    slack.driver.command(f'agent {c.name} "Ava <b>"')
    call = slack.fake.wait("chat.postMessage", mark)
    assert "Ava &lt;b&gt;" in call.params["text"] and "was none" in call.params["text"]
    with slack.sessions() as s:
        assert CampaignRepo(s).get(c.id).agent_id is not None
    assert _audit(slack, c.id, "campaign.update")[0].actor == f"slack:{OPERATOR}"
    mark = slack.fake.mark()
    slack.driver.command(f"agent {c.name} Nobody")
    unknown = slack.fake.wait("chat.postEphemeral", mark)
    assert "no agent `Nobody`" in _text(unknown) and "Ava &lt;b&gt;" in _text(unknown)
    mark = slack.fake.mark()
    ack = slack.driver.command(f"agent {c.name}").json()  # no agent named: the ack says so
    assert "needs a campaign and an agent" in ack["text"]
    assert _no_post(slack, mark) == []
