"""Block Kit limits and escaping hold for any data (pure: no Slack, no database)."""

from __future__ import annotations

import json

from chatops import views
from chatops.service import CampaignLine, NumberLine, NumbersView


def _check_limits(msg: views.Message) -> None:
    assert len(msg["text"]) <= 3000
    assert len(msg.get("blocks", [])) <= 50
    for block in msg.get("blocks", []):
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        for f in block.get("fields", []):
            assert len(f["text"]) <= 2000
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75


def test_escaping_defuses_markup_and_broadcasts() -> None:
    assert views.esc("<!here> & <@U1> @channel @everyone") == (
        "&lt;!here&gt; &amp; &lt;@U1&gt; @\u200bchannel @\u200beveryone")
    assert views.plain("<!here> @here", 150) == "<\u200b!here> @\u200bhere"
    assert views.mention("U0123ABC") == "<@U0123ABC>"
    assert views.mention("<!channel>") == "&lt;!channel&gt;"


def test_hundreds_of_campaigns_and_numbers_stay_within_limits() -> None:
    long = "n" * 300 + " <!channel>"
    lines = [CampaignLine(i, f"{long}{i}", "active", 10**6, 3) for i in range(500)]
    for msg in (views.campaigns_message(lines), views.overview_message(lines)):
        _check_limits(msg)
        assert "<!channel>" not in json.dumps(msg)
    numbers = NumbersView(long, tuple(
        NumberLine(f"+1415555{i:04d}", long, "excluded", 5, 100, 10, 8, "red", long)
        for i in range(400)))
    msg = views.numbers_message(numbers)
    _check_limits(msg)
    assert "<!channel>" not in json.dumps(msg)


def test_long_button_and_header_text_is_cut() -> None:
    assert len(views.button("b" * 200, "a", "1")["text"]["text"]) == 75
    assert len(views.header("h" * 400)["text"]["text"]) == 150
    assert views.truncate("abc", 3) == "abc" and views.truncate("abcd", 3) == "ab…"
