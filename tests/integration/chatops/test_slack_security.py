"""Requests that Slack did not sign, or signed too long ago, are refused with 401 before
any listener runs: nothing is posted and nothing changes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.chatops.conftest import OPERATOR, SECRET, SlackApp, sign

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("case", ["forged", "wrong_secret", "stale", "future", "no_signature",
                                  "no_timestamp", "no_headers", "tampered"])
def test_unsigned_forged_or_stale_requests_get_401(slack: SlackApp, case: str) -> None:
    c = slack.campaign("locked")
    body = slack.driver.command_body(f"pause {c.name}", user=OPERATOR)
    now = str(int(time.time()))
    options: dict[str, dict[str, Any]] = {
        "forged": {"signature": "v0=" + "0" * 64},
        "wrong_secret": {"signature": sign("not-" + SECRET, now, body), "ts": now},
        "stale": {"ts": str(int(time.time()) - 301)},
        "future": {"ts": str(int(time.time()) + 301)},
        "no_signature": {"drop": ("X-Slack-Signature",)},
        "no_timestamp": {"drop": ("X-Slack-Request-Timestamp",)},
        "no_headers": {"drop": ("X-Slack-Signature", "X-Slack-Request-Timestamp")},
        "tampered": {"signature": sign(SECRET, now, body.replace(b"pause", b"resume")),
                     "ts": now},
    }
    kwargs = options[case]
    mark = slack.fake.mark()
    reply = slack.driver.post(body, "application/x-www-form-urlencoded", **kwargs)
    assert reply.status == 401
    time.sleep(0.3)
    assert [call.method for call in slack.fake.since(mark)] == []
    assert slack.status_of(c.id) == "active"


def test_the_same_request_signed_properly_is_accepted(slack: SlackApp) -> None:
    c = slack.campaign("open")
    body = slack.driver.command_body(f"pause {c.name}", user=OPERATOR)
    mark = slack.fake.mark()
    assert slack.driver.post(body, "application/x-www-form-urlencoded").status == 200
    slack.fake.wait("chat.postMessage", mark)
    assert slack.status_of(c.id) == "paused"


def test_other_paths_and_methods_are_not_found(slack: SlackApp) -> None:
    import urllib.error
    import urllib.request

    url = slack.driver.url.replace("/slack/events", "/other")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"),
                               timeout=5)
    assert info.value.code == 404
    info.value.close()
