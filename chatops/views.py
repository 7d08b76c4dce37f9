"""Block Kit rendering: plain data in, message payloads (``text`` + ``blocks``) out.

Every value that came from a user or the database goes through ``esc`` (mrkdwn) or
``plain`` (plain_text) so nobody can make the bot post ``@channel`` or broken markup,
and every block respects Slack's limits (section text 3,000 characters, header 150,
button text 75, 10 fields of 2,000, 50 blocks per message).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from chatops import strings as s
from chatops.alerts import AlertEvent, AlertKind
from chatops.errors import (
    BadInput,
    BadPhone,
    ChatOpsError,
    IllegalChange,
    UnknownAgent,
    UnknownCampaign,
)
from chatops.service import (
    Added,
    AgentChange,
    CampaignLine,
    CampaignStatusView,
    Change,
    DashboardView,
    ImportProgress,
    ImportResult,
    NumbersView,
)

SECTION_MAX: Final = 3000
HEADER_MAX: Final = 150
BUTTON_MAX: Final = 75
FIELD_MAX: Final = 2000
FALLBACK_MAX: Final = 3000
MAX_BLOCKS: Final = 50
MAX_LISTED: Final = 40

ACTION_PAUSE: Final = "dialer_pause"
ACTION_RESUME: Final = "dialer_resume"
ACTION_CANCEL_CONFIRM: Final = "dialer_cancel_confirm"
ACTION_CANCEL_KEEP: Final = "dialer_cancel_keep"

Message = dict[str, Any]
Block = dict[str, Any]

_BROADCAST = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
_ANGLE = re.compile(r"<(?=[!@#]|[A-Za-z][A-Za-z0-9+.\-]*:)")  # <!…>, <@…>, <#…>, <http:…>
_USER_ID = re.compile(r"^[UWB][A-Z0-9]{2,20}$")


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis when it was longer."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def esc(value: object) -> str:
    """Escape user or database text for mrkdwn: ``&``, ``<``, ``>`` and broadcasts."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u200b", text)


def plain(value: object, limit: int) -> str:
    """Text for a plain_text object: shown as typed, with ``<!…>``/``<@…>``/``<http…>``
    and ``@here`` defused by a zero-width space (belt and braces: plain_text parses no
    mentions or links)."""
    text = _BROADCAST.sub("@\u200b", _ANGLE.sub("<\u200b", str(value)))
    return truncate(text, limit) or " "


def mention(user_id: str) -> str:
    """``<@U…>`` for a real user id; anything else is shown escaped."""
    return f"<@{user_id}>" if _USER_ID.match(user_id) else esc(user_id)


def section(text: str) -> Block:
    """A mrkdwn section (text already escaped), cut to the limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_MAX)}}


def header(text: str) -> Block:
    """A header block with plain text."""
    return {"type": "header", "text": {"type": "plain_text", "text": plain(text, HEADER_MAX)}}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    """A button element."""
    element: Block = {"type": "button", "action_id": action_id, "value": value,
                      "text": {"type": "plain_text", "text": plain(text, BUTTON_MAX)}}
    if style:
        element["style"] = style
    return element


def fields(pairs: Iterable[tuple[str, str]]) -> Block:
    """A section with up to 10 mrkdwn fields."""
    return {"type": "section", "fields": [
        {"type": "mrkdwn", "text": truncate(f"{k}\n*{v}*", FIELD_MAX)}
        for k, v in list(pairs)[:10]]}


def message(text: str, blocks: Sequence[Block] = ()) -> Message:
    """A payload with its notification fallback ``text`` (mrkdwn, already escaped)."""
    out: Message = {"text": truncate(text, FALLBACK_MAX)}
    if blocks:
        out["blocks"] = list(blocks)[:MAX_BLOCKS]
    return out


def chunked_sections(lines: Sequence[str]) -> list[Block]:
    """Lines packed into as few sections as the 3,000-character limit allows."""
    blocks: list[Block] = []
    current = ""
    for line in lines:
        line = truncate(line, SECTION_MAX)
        if current and len(current) + 1 + len(line) > SECTION_MAX:
            blocks.append(section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(section(current))
    return blocks


# --- replies ---------------------------------------------------------------------------

def help_message() -> Message:
    """The list of subcommands."""
    return message(s.HELP_TITLE, [header(s.HELP_TITLE), section(s.HELP)])


def text_message(text: str) -> Message:
    """A one-section reply whose text is trusted (already escaped) mrkdwn."""
    return message(text, [section(text)])


def error_message(error: ChatOpsError) -> Message:
    """The reply for an error the service raised on purpose."""
    if isinstance(error, UnknownCampaign):
        text = s.UNKNOWN_CAMPAIGN.format(key=esc(error.key).replace("`", "'"))
        if error.suggestions:
            names = ", ".join(f"`{esc(n).replace('`', '')}`" for n in error.suggestions)
            text += s.DID_YOU_MEAN.format(names=names)
    elif isinstance(error, BadPhone):
        text = s.BAD_PHONE.format(raw=esc(error.raw).replace("`", "'"),
                                  reason=esc(error.reason))
    elif isinstance(error, IllegalChange):
        text = s.ILLEGAL_CHANGE.format(name=esc(error.name), current=esc(error.current),
                                       target=esc(error.target))
    elif isinstance(error, UnknownAgent):
        names = ", ".join(f"`{esc(n).replace('`', '')}`" for n in error.names) or "none"
        text = s.UNKNOWN_AGENT.format(key=esc(error.key).replace("`", "'"), names=names)
    elif isinstance(error, BadInput):
        text = s.BAD_INPUT.format(reason=esc(error.reason))
    else:
        text = s.INTERNAL_ERROR
    return text_message(text)


def campaigns_message(lines: Sequence[CampaignLine]) -> Message:
    """``list``: one line per campaign."""
    if not lines:
        return text_message(s.NO_CAMPAIGNS)
    rendered = [s.CAMPAIGN_LINE.format(name=esc(c.name), id=c.id, status=c.status,
                                       contacts=f"{c.contacts:,}", numbers=c.numbers)
                for c in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        rendered.append(s.MORE_CAMPAIGNS.format(n=len(lines) - MAX_LISTED))
    return message(s.CAMPAIGNS_TITLE, [header(s.CAMPAIGNS_TITLE),
                                       *chunked_sections(rendered)][:MAX_BLOCKS])


def _toggle(campaign_id: int, status: str) -> Block | None:
    if status == "active":
        return button(s.PAUSE_BUTTON, ACTION_PAUSE, str(campaign_id), "danger")
    if status in ("paused", "completed"):
        return button(s.RESUME_BUTTON, ACTION_RESUME, str(campaign_id), "primary")
    return None


def overview_message(lines: Sequence[CampaignLine]) -> Message:
    """``status`` without a campaign: each campaign with its Pause/Resume button."""
    if not lines:
        return text_message(s.NO_CAMPAIGNS)
    blocks: list[Block] = [header(s.CAMPAIGNS_TITLE)]
    for c in lines[:MAX_BLOCKS - 2]:
        block = section(s.CAMPAIGN_LINE.format(name=esc(c.name), id=c.id, status=c.status,
                                               contacts=f"{c.contacts:,}", numbers=c.numbers))
        toggle = _toggle(c.id, c.status)
        if toggle is not None:
            block["accessory"] = toggle
        blocks.append(block)
    if len(lines) > MAX_BLOCKS - 2:
        blocks.append(section(s.MORE_CAMPAIGNS.format(n=len(lines) - (MAX_BLOCKS - 2))))
    return message(s.CAMPAIGNS_TITLE, blocks)


def status_message(view: CampaignStatusView) -> Message:
    """``status <campaign>``: counts, numbers and the Pause/Resume buttons."""
    title = s.STATUS_TITLE.format(name=view.name)
    line = s.STATUS_LINE.format(status=view.status, timezone=esc(view.timezone),
                                contacts=f"{view.contacts:,}")
    numbers = ", ".join(view.numbers) or s.NO_NUMBERS
    blocks: list[Block] = [
        header(title), section(line),
        fields((st, f"{n:,}") for st, n in view.by_status if n or st == "pending"),
        section(s.STATUS_NUMBERS.format(numbers=esc(numbers)))]
    toggle = _toggle(view.id, view.status)
    if toggle is not None:
        blocks.append({"type": "actions", "block_id": f"status:{view.id}",
                       "elements": [toggle]})
    return message(f"{esc(title)}: {view.status}", blocks)


def change_message(change: Change, user_id: str) -> Message:
    """The result of pause/resume/cancel, with the button that undoes it."""
    if change.before == change.after:
        text = s.UNCHANGED.format(name=esc(change.name), status=change.after)
    else:
        text = s.CHANGED.format(user=mention(user_id), name=esc(change.name),
                                after=change.after, before=change.before)
    blocks = [section(text)]
    toggle = _toggle(change.campaign_id, change.after)
    if toggle is not None:
        blocks.append({"type": "actions", "block_id": f"status:{change.campaign_id}",
                       "elements": [toggle]})
    return message(text, blocks)


def cancel_question(campaign_id: int, name: str) -> Message:
    """``cancel``: ask first, with confirm and keep buttons."""
    text = s.CANCEL_QUESTION.format(name=esc(name))
    return message(text, [section(text), {
        "type": "actions", "block_id": f"cancel:{campaign_id}",
        "elements": [button(s.CANCEL_CONFIRM_BUTTON, ACTION_CANCEL_CONFIRM, str(campaign_id),
                            "danger"),
                     button(s.CANCEL_KEEP_BUTTON, ACTION_CANCEL_KEEP, str(campaign_id))]}])


def kept_message(name: str, status: str) -> Message:
    """The answer to "No, keep it"."""
    return text_message(s.CANCEL_KEPT.format(name=esc(name), status=esc(status)))


def agent_message(change: AgentChange, user_id: str) -> Message:
    """``agent``: the campaign's new voice agent."""
    return text_message(s.AGENT_SET.format(
        user=mention(user_id), campaign=esc(change.campaign), agent=esc(change.agent),
        before=esc(change.before) if change.before else "none"))


def added_message(added: Added, user_id: str) -> Message:
    """``add``: what was added (or that it was there already)."""
    if not added.inserted:
        return text_message(s.ALREADY_IN.format(phone=added.phone,
                                                campaign=esc(added.campaign)))
    name = f" ({esc(added.name)})" if added.name else ""
    return text_message(s.ADDED.format(user=mention(user_id), phone=added.phone, name=name,
                                       campaign=esc(added.campaign)))


def _pct(value: float | None) -> str:
    return s.NOT_AVAILABLE if value is None else f"{value:.0%}"


def dashboard_message(view: DashboardView) -> Message:
    """``dashboard``: quick stats, status breakdown, answer rates and goal results."""
    d = view.dashboard
    q = d.quick_stats
    avg = s.NOT_AVAILABLE if q.average_duration_s is None else f"{q.average_duration_s:.0f} s"
    title = s.DASHBOARD_TITLE.format(name=view.campaign)
    return message(esc(title), [
        header(title),
        section(s.QUICK_STATS.format(calls=f"{q.calls:,}", conversations=f"{q.conversations:,}",
                                     answer_rate=_pct(q.answer_rate),
                                     goal_rate=_pct(q.goal_achievement_rate), avg=avg)),
        section(s.STATUS_BREAKDOWN),
        fields((k.replace("_", " "), f"{v['count']:,} ({v['share']:.0%})")
               for k, v in d.status_breakdown.items()),
        section(s.ANSWER_RATES),
        fields((k.replace("_", " "), f"{v:.0%}") for k, v in d.answer_rates.items()),
        section(s.GOAL_RESULTS),
        fields((k.replace("_", " "), f"{v['count']:,} ({v['share']:.0%})")
               for k, v in d.goal_breakdown.items()),
    ])


def numbers_message(view: NumbersView) -> Message:
    """``numbers``: calls today against the cap, spam scores and exclusions."""
    title = s.NUMBERS_TITLE.format(name=view.campaign)
    if not view.numbers:
        return message(esc(title), [header(title), section(s.NO_NUMBERS)])
    lines = [s.NUMBER_LINE.format(
        e164=n.e164, friendly=f" ({esc(n.friendly_name)})" if n.friendly_name else "",
        status=n.status, today=n.calls_today, cap=n.daily_cap, total=f"{n.calls_total:,}",
        spam=n.spam_score, band=n.spam_band,
        excluded=s.NUMBER_EXCLUDED.format(reason=esc(n.excluded_reason or s.ALERT_NO_REASON))
        if n.status == "excluded" else "") for n in view.numbers]
    return message(esc(title), [header(title), *chunked_sections(lines)])


# --- imports ---------------------------------------------------------------------------

def import_started(filename: str, campaign: str, size: int) -> Message:
    """First reply in the import's thread."""
    return text_message(s.IMPORT_STARTED.format(filename=esc(filename).replace("`", "'"),
                                                campaign=esc(campaign), size=f"{size:,}"))


def import_progress(filename: str, progress: ImportProgress) -> Message:
    """The progress line, updated in place."""
    return text_message(s.IMPORT_PROGRESS.format(
        filename=esc(filename).replace("`", "'"), processed=f"{progress.processed:,}",
        total=f"{progress.total:,}"))


def import_report(filename: str, campaign: str, result: ImportResult,
                  max_errors: int = 20) -> Message:
    """The final report: counts and the first skipped rows with their reasons."""
    name = esc(filename).replace("`", "'")
    if result.status != "done":
        return text_message(s.IMPORT_FAILED.format(
            filename=name, reason=esc(result.failure or s.ALERT_NO_REASON)))
    text = s.IMPORT_DONE.format(filename=name, campaign=esc(campaign),
                                inserted=f"{result.inserted:,}",
                                duplicates=f"{result.duplicates:,}",
                                errors=f"{len(result.errors):,}")
    blocks = [section(text)]
    if result.errors:
        lines = [s.IMPORT_ERROR_LINE.format(line=line, reason=esc(reason))
                 for line, reason in result.errors[:max_errors]]
        if len(result.errors) > max_errors:
            lines.append(s.IMPORT_MORE_ERRORS.format(n=len(result.errors) - max_errors))
        blocks += [section(s.IMPORT_ERRORS_TITLE), *chunked_sections(lines)[:5]]
    return message(text, blocks)


# --- alerts ----------------------------------------------------------------------------

_ABOUT_A_CAMPAIGN: dict[AlertKind, str] = {
    AlertKind.TRUNK_FAILING: s.ALERT_TRUNK_FAILING,
    AlertKind.TRUNK_RECOVERED: s.ALERT_TRUNK_RECOVERED,
    AlertKind.DIALER_DEGRADED: s.ALERT_DIALER_DEGRADED,
    AlertKind.DIALER_RECOVERED: s.ALERT_DIALER_RECOVERED,
}


def alert_message(event: AlertEvent) -> Message:
    """One alert for the alerts channel."""
    reason = esc(event.reason or s.ALERT_NO_REASON)
    campaign = esc(event.campaign or "?")
    if event.kind is AlertKind.NUMBER_EXCLUDED:
        text = s.ALERT_NUMBER_EXCLUDED.format(number=esc(event.number or "?"), reason=reason)
    elif event.kind is AlertKind.CAMPAIGN_COMPLETED:
        text = s.ALERT_CAMPAIGN_COMPLETED.format(campaign=campaign)
    elif event.kind is AlertKind.DATABASE_DOWN:
        text = s.ALERT_DATABASE_DOWN.format(reason=reason)
    elif event.kind is AlertKind.DATABASE_BACK:
        text = s.ALERT_DATABASE_BACK.format(reason=reason)
    elif event.kind in _ABOUT_A_CAMPAIGN:
        part = s.ALERT_IN_CAMPAIGN.format(campaign=campaign) if event.campaign else ""
        text = _ABOUT_A_CAMPAIGN[event.kind].format(campaign_part=part, reason=reason)
    else:
        text = s.ALERT_AUTO_PAUSE.format(campaign=campaign, reason=reason)
    return text_message(text)
