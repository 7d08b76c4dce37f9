"""The operator commands: campaigns, numbers, contacts, goals, analyses, schedules, DNC.

Each command parses its arguments, calls one repository or service in one transaction,
and prints a table or (with ``--json``) one JSON value.
"""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import click

from campaigns import types as t
from campaigns.phones import normalize
from dialer.cli import App, BadInput, cli, emit, json_option, now, pass_app, table, tx


def _enum(kind: type[StrEnum]) -> click.Choice[str]:
    return click.Choice([m.value for m in kind], case_sensitive=False)


def _datetime(text: str | None, tz: str) -> datetime | None:
    if not text:
        return None
    from zoneinfo import ZoneInfo

    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadInput(f"{text!r} is not an ISO date/time like 2026-12-01T09:00") from exc
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))


def campaign_json(c: t.Campaign) -> dict[str, Any]:
    """A campaign as a JSON object (settings flattened into sub-objects)."""
    s, r = c.settings, c.rotation
    return {
        "id": c.id, "name": c.name, "status": c.status.value, "timezone": c.timezone,
        "region": c.region, "agent_id": c.agent_id, "schedule_id": c.schedule_id,
        "start_at": c.start_at, "notes": c.notes,
        "settings": {"call_interval_s": s.call_interval_s, "ring_timeout_s": s.ring_timeout_s,
                     "amd_mode": s.amd_mode.value, "machine_action": s.machine_action.value,
                     "max_retries": s.max_retries,
                     "retry_interval": t.format_duration(s.retry_interval),
                     "completion_timeout": t.format_duration(s.completion_timeout),
                     "max_concurrent_calls": s.max_concurrent_calls},
        "rotation": {"strategy": r.strategy.value, "fallback": r.fallback.value,
                     "spam_threshold": r.spam_threshold,
                     "max_calls_per_number_per_day": r.max_calls_per_number_per_day},
    }


# --- campaign --------------------------------------------------------------------------

def _settings_options(fn: Any) -> Any:
    options = [
        click.option("--call-interval", help="5s 10s 20s 30s 1m 2m 5m 10m 20m 30m"),
        click.option("--ring-timeout", type=click.Choice([str(v) for v in t.RING_TIMEOUTS_S]),
                     help="Seconds to ring before cancelling."),
        click.option("--amd-mode", type=_enum(t.AmdMode)),
        click.option("--machine-action", type=_enum(t.MachineAction)),
        click.option("--max-retries", type=int, help="0-10"),
        click.option("--retry-interval", help="e.g. 30m, 4h, 1d"),
        click.option("--completion-timeout", help="e.g. 30m, 24h, 2d"),
        click.option("--max-concurrent", type=int, help="Calls in flight at once."),
        click.option("--rotation", type=_enum(t.RotationStrategy)),
        click.option("--rotation-fallback", type=_enum(t.RotationStrategy)),
        click.option("--spam-threshold", type=int, help="1-9"),
        click.option("--daily-cap", type=int, help="Max calls per number per day (1-1000)."),
        click.option("--notes"),
        click.option("--start-at", help="ISO date/time in the campaign timezone; blank = now."),
        click.option("--region", help="Default country for national numbers (e.g. US)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _changes(kw: dict[str, Any], tz: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if kw.get("call_interval"):
        out["call_interval_s"] = t.parse_call_interval(kw["call_interval"])
    if kw.get("ring_timeout"):
        out["ring_timeout_s"] = int(kw["ring_timeout"])
    if kw.get("amd_mode"):
        out["amd_mode"] = t.AmdMode(kw["amd_mode"])
    if kw.get("machine_action"):
        out["machine_action"] = t.MachineAction(kw["machine_action"])
    if kw.get("max_retries") is not None:
        out["max_retries"] = kw["max_retries"]
    if kw.get("retry_interval"):
        out["retry_interval"] = t.parse_duration(kw["retry_interval"])
    if kw.get("completion_timeout"):
        out["completion_timeout"] = t.parse_duration(kw["completion_timeout"])
    if kw.get("max_concurrent") is not None:
        out["max_concurrent_calls"] = kw["max_concurrent"]
    if kw.get("rotation"):
        out["strategy"] = t.RotationStrategy(kw["rotation"])
    if kw.get("rotation_fallback"):
        out["fallback"] = t.RotationStrategy(kw["rotation_fallback"])
    if kw.get("spam_threshold") is not None:
        out["spam_threshold"] = kw["spam_threshold"]
    if kw.get("daily_cap") is not None:
        out["max_calls_per_number_per_day"] = kw["daily_cap"]
    if kw.get("notes") is not None:
        out["notes"] = kw["notes"]
    if kw.get("start_at") is not None:
        out["start_at"] = _datetime(kw["start_at"], tz)
    if kw.get("region"):
        out["region"] = kw["region"].upper()
    return out


@cli.group()
def campaign() -> None:
    """Create, list, show, change and steer campaigns."""


@campaign.command("create")
@click.argument("name")
@click.option("--timezone", default="UTC", show_default=True, help="IANA timezone.")
@_settings_options
@json_option
@pass_app
def campaign_create(app: App, /, name: str, timezone: str, as_json: bool, **kw: Any) -> None:
    """Create a campaign (paused until set active)."""
    from dataclasses import fields, replace

    from storage.repos import CampaignRepo

    t.check_timezone(timezone)
    changes = _changes(kw, timezone)
    settings_keys = {f.name for f in fields(t.CallSettings)}
    rotation_keys = {f.name for f in fields(t.RotationSettings)}
    settings = replace(t.CallSettings(), **{k: v for k, v in changes.items()
                                            if k in settings_keys})
    rotation = replace(t.RotationSettings(), **{k: v for k, v in changes.items()
                                                if k in rotation_keys})
    with tx(app) as s:
        c = CampaignRepo(s).create(name, app.who, now(), timezone=timezone,
                                   region=changes.get("region", "US"),
                                   notes=changes.get("notes", ""),
                                   start_at=changes.get("start_at"), settings=settings,
                                   rotation=rotation)
    emit(campaign_json(c)) if as_json else click.echo(f"created campaign {c.id} {c.name!r}")


@campaign.command("list")
@click.option("--search", default="", help="Part of the name.")
@click.option("--sort", type=click.Choice(["name", "status", "date"]), default="name")
@click.option("--status", "statuses", multiple=True, type=_enum(t.CampaignStatus))
@json_option
@pass_app
def campaign_list(app: App, search: str, sort: str, statuses: tuple[str, ...],
                  as_json: bool) -> None:
    """List campaigns with contact and number counts and whether the schedule is open."""
    from storage.repos import CampaignRepo

    with tx(app) as s:
        rows = CampaignRepo(s).list(search=search, sort=sort,
                                    statuses=[t.CampaignStatus(v) for v in statuses])
        opened = {r.campaign.id: _schedule_open(s, r.campaign) for r in rows}
    out = [{**campaign_json(r.campaign), "contacts": r.contacts, "numbers": r.numbers,
            "created_at": r.created_at, "schedule_open": opened[r.campaign.id]} for r in rows]
    if as_json:
        emit(out)
        return
    table("Campaigns", ["id", "name", "status", "contacts", "numbers", "schedule", "created"],
          [(o["id"], o["name"], o["status"], o["contacts"], o["numbers"],
            {True: "open", False: "closed", None: "always"}[o["schedule_open"]],
            r.created_at.strftime("%Y-%m-%d")) for o, r in zip(out, rows, strict=True)])


def _schedule_open(s: Any, c: t.Campaign) -> bool | None:
    if c.schedule_id is None:
        return None
    from campaigns.schedule import is_open, schedule_from_dict
    from storage.repos import ScheduleRepo

    return is_open(schedule_from_dict(ScheduleRepo(s).row(c.schedule_id).definition), now())


@campaign.command("show")
@click.argument("campaign_key", metavar="NAME_OR_ID")
@json_option
@pass_app
def campaign_show(app: App, campaign_key: str, as_json: bool) -> None:
    """Show one campaign with its settings, numbers and contact counts."""
    from storage.repos import CampaignRepo, ContactRepo, NumberRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        counts = ContactRepo(s).status_counts(c.id)
        numbers = NumberRepo(s).for_campaign(c.id)
        is_open = _schedule_open(s, c)
    out = {**campaign_json(c), "contacts": sum(counts.values()),
           "status_counts": {k.value: counts.get(k, 0) for k in t.ContactStatus},
           "numbers": [{"e164": a.number.e164, "weight": a.weight,
                        "status": a.number.status.value} for a in numbers],
           "schedule_open": is_open}
    if as_json:
        emit(out)
        return
    table(f"Campaign {c.id}: {c.name}", ["field", "value"],
          [("status", c.status.value), ("timezone", c.timezone),
           ("contacts", out["contacts"]),
           ("numbers", ", ".join(a.number.e164 for a in numbers) or "-"),
           *[(k, v) for k, v in out["settings"].items()],
           *[(f"rotation.{k}", v) for k, v in out["rotation"].items()],
           *[(f"contacts.{k}", v) for k, v in out["status_counts"].items()]])


@campaign.command("update")
@click.argument("campaign_key", metavar="NAME_OR_ID")
@click.option("--name", "new_name", help="Rename the campaign.")
@click.option("--timezone")
@click.option("--agent", help="Agent name or id.")
@click.option("--schedule", help="Schedule name or id ('none' to remove).")
@_settings_options
@json_option
@pass_app
def campaign_update(app: App, /, campaign_key: str, new_name: str | None, timezone: str | None,
                    agent: str | None, schedule: str | None, as_json: bool, **kw: Any) -> None:
    """Change a campaign's fields or call settings."""
    from storage.repos import AgentRepo, CampaignRepo, ScheduleRepo

    with tx(app) as s:
        repo = CampaignRepo(s)
        current = repo.get(campaign_key)
        changes = _changes(kw, timezone or current.timezone)
        if new_name:
            changes["name"] = new_name
        if timezone:
            changes["timezone"] = t.check_timezone(timezone)
        if agent:
            changes["agent_id"] = AgentRepo(s).row(agent).id
        if schedule:
            changes["schedule_id"] = (None if schedule.lower() == "none"
                                      else ScheduleRepo(s).row(schedule).id)
        if not changes:
            raise BadInput("nothing to change: give at least one option")
        c = repo.update(current.id, app.who, now(), **changes)
    emit(campaign_json(c)) if as_json else click.echo(f"updated campaign {c.id} {c.name!r}")


@campaign.command("set-status")
@click.argument("keys", nargs=-1, required=True, metavar="NAME_OR_ID... STATUS")
@json_option
@pass_app
def campaign_set_status(app: App, keys: tuple[str, ...], as_json: bool) -> None:
    """Set the status of one or more campaigns: active, paused, completed, cancelled.

    All or nothing: when one change is illegal, none is made.
    """
    from storage.repos import CampaignRepo

    if len(keys) < 2:
        raise BadInput("give at least one campaign and a status")
    try:
        target = t.CampaignStatus(keys[-1].lower())
    except ValueError as exc:
        raise BadInput(f"status must be one of {', '.join(s.value for s in t.CampaignStatus)}"
                       ) from exc
    results = []
    with tx(app) as s:
        repo = CampaignRepo(s)
        for key in keys[:-1]:
            c = repo.get(key)
            before, after = repo.set_status(c.id, target, app.who, now())
            results.append({"id": c.id, "name": c.name, "from": before.value,
                            "status": after.value})
    if as_json:
        emit(results if len(results) > 1 else results[0])
    else:
        for r in results:
            click.echo(f"campaign {r['id']} {r['name']!r}: {r['from']} -> {r['status']}")


@campaign.command("add-number")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("phone", metavar="E164")
@click.option("--weight", type=click.IntRange(0, 1000), default=1, show_default=True)
@pass_app
def campaign_add_number(app: App, campaign_key: str, phone: str, weight: int) -> None:
    """Assign a registered number to a campaign (rotation weight optional)."""
    from storage.repos import CampaignRepo, NumberRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        e164 = normalize(phone, c.region)
        NumberRepo(s).assign(c.id, e164, app.who, now(), weight=weight)
    click.echo(f"{e164} assigned to {c.name!r} with weight {weight}")


@campaign.command("remove-number")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("phone", metavar="E164")
@pass_app
def campaign_remove_number(app: App, campaign_key: str, phone: str) -> None:
    """Take a number off a campaign."""
    from storage.repos import CampaignRepo, NumberRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        e164 = normalize(phone, c.region)
        NumberRepo(s).unassign(c.id, e164, app.who, now())
    click.echo(f"{e164} removed from {c.name!r}")


# --- numbers ---------------------------------------------------------------------------

@cli.group()
def numbers() -> None:
    """Caller-ID phone numbers."""


@numbers.command("add")
@click.argument("phone", metavar="E164")
@click.option("--name", "friendly_name", default="", help="Friendly name.")
@click.option("--region", default="US", show_default=True)
@json_option
@pass_app
def numbers_add(app: App, phone: str, friendly_name: str, region: str, as_json: bool) -> None:
    """Register a caller-ID number."""
    from storage.repos import NumberRepo

    e164 = normalize(phone, region)
    with tx(app) as s:
        n = NumberRepo(s).add(e164, app.who, now(), friendly_name=friendly_name)
    emit(_number_json(n)) if as_json else click.echo(f"added {n.e164}")


def _number_json(n: t.PhoneNumber) -> dict[str, Any]:
    from campaigns.spam import band

    return {"id": n.id, "e164": n.e164, "friendly_name": n.friendly_name,
            "status": n.status.value, "calls_today": n.calls_today,
            "calls_total": n.calls_total, "spam_score": n.spam_score,
            "spam_band": band(n.spam_score).value}


@numbers.command("list")
@json_option
@pass_app
def numbers_list(app: App, as_json: bool) -> None:
    """List numbers with calls today, totals and spam scores."""
    from storage.repos import NumberRepo

    with tx(app) as s:
        rows = [_number_json(n) for n in NumberRepo(s).list(today=now().date().isoformat())]
    if as_json:
        emit(rows)
        return
    table("Numbers", ["e164", "name", "status", "today", "total", "spam"],
          [(r["e164"], r["friendly_name"], r["status"], r["calls_today"], r["calls_total"],
            f"{r['spam_score']} ({r['spam_band']})") for r in rows])


def _number_status(app: App, phone: str, status: t.NumberStatus, region: str) -> None:
    from storage.repos import NumberRepo

    with tx(app) as s:
        n = NumberRepo(s).set_status(normalize(phone, region), status, app.who, now())
    click.echo(f"{n.e164} is {n.status.value}")


@numbers.command("enable")
@click.argument("phone", metavar="E164")
@click.option("--region", default="US")
@pass_app
def numbers_enable(app: App, phone: str, region: str) -> None:
    """Make a number active again."""
    _number_status(app, phone, t.NumberStatus.ACTIVE, region)


@numbers.command("disable")
@click.argument("phone", metavar="E164")
@click.option("--region", default="US")
@pass_app
def numbers_disable(app: App, phone: str, region: str) -> None:
    """Stop a number from dialling."""
    _number_status(app, phone, t.NumberStatus.DISABLED, region)


# --- contacts --------------------------------------------------------------------------

@cli.group()
def contacts() -> None:
    """Contacts of a campaign: add, import, list, export, retry."""


def _contact_json(v: Any) -> dict[str, Any]:
    return {"id": v.id, "phone": v.phone, "name": v.name, "status": v.status.value,
            "priority": v.priority.value, "country": v.country, "timezone": v.timezone,
            "tags": list(v.tags), "attempts": v.attempts, "last_called_at": v.last_called_at,
            "goal_result": v.goal_result, "goal_score": v.goal_score,
            "conversations": v.conversation_count, "total_duration_s": v.total_duration_s,
            "last_answer_status": v.last_answer_status, "attributes": v.attributes}


@contacts.command("add")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("phone")
@click.option("--name", default="")
@click.option("--priority", type=_enum(t.Priority), default="normal", show_default=True)
@click.option("--tags", default="", help="Comma-separated.")
@click.option("--timezone")
@click.option("--region", help="Country for a national number (default: the campaign's).")
@json_option
@pass_app
def contacts_add(app: App, campaign_key: str, phone: str, name: str, priority: str, tags: str,
                 timezone: str | None, region: str | None, as_json: bool) -> None:
    """Add one contact by hand."""
    from campaigns.phones import region_of
    from storage.repos import AuditRepo, CampaignRepo, ContactRepo, NewContact

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        e164 = normalize(phone, region or c.region)
        if timezone:
            t.check_timezone(timezone)
        contact = NewContact(phone=e164, name=name.strip(), priority=t.Priority(priority),
                             tags=tuple(x.strip() for x in tags.split(",") if x.strip()),
                             timezone=timezone, country=region_of(e164))
        inserted, duplicates = ContactRepo(s).add_many(c.id, [contact], now())
        if inserted:
            AuditRepo(s).record(app.who, "contacts.add", "campaign", c.id, now(),
                                {"count": 1})
    out = {"phone": e164, "inserted": inserted, "duplicates": duplicates}
    if as_json:
        emit(out)
    else:
        click.echo(f"added {e164}" if inserted else f"{e164} is already in {c.name!r}")


@contacts.command("import")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--region", help="Default country for national numbers (default: campaign's).")
@json_option
@pass_app
def contacts_import(app: App, campaign_key: str, path: Path, region: str | None,
                    as_json: bool) -> None:
    """Import contacts from a CSV file (max 5 MB); waits and reports bad rows by line."""
    from campaigns.importing import MAX_IMPORT_BYTES, ImportTooLarge
    from storage.repos import AuditRepo
    from storage.services import import_in_background, read_limited, start_import

    if not path.exists():
        raise BadInput(f"no such file: {path}")
    data = read_limited(path, MAX_IMPORT_BYTES)
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportTooLarge(path.stat().st_size, MAX_IMPORT_BYTES)
    if region:
        region = region.upper()
    import_id, campaign_id = start_import(app.sessions, campaign_key, path.name, len(data),
                                          app.who)
    reports: list[Any] = []
    thread = import_in_background(app.sessions, import_id, data, region=region,
                                  done=reports.append)
    _watch_import(app, import_id, thread, quiet=as_json)
    report = reports[0]
    with tx(app) as s:
        AuditRepo(s).record(app.who, "contacts.import", "campaign", campaign_id, now(),
                            {"import_id": import_id, "inserted": report.inserted,
                             "status": report.status})
    if as_json:
        emit(report.as_json())
    else:
        click.echo(f"import {import_id}: {report.status}, {report.inserted} inserted, "
                   f"{report.duplicates} duplicates, {len(report.errors)} bad rows")
        for err in report.errors[:20]:
            click.echo(f"  line {err['line']}: {err['reason']}")
        if len(report.errors) > 20:
            click.echo(f"  … and {len(report.errors) - 20} more (see --json)")
    if report.status == "failed":
        raise BadInput(report.failure or "import failed")


def _watch_import(app: App, import_id: int, thread: Any, *, quiet: bool) -> None:
    """Show the import's progress from its record on stderr until the thread ends."""
    from rich.console import Console
    from rich.progress import Progress

    from storage.repos import ImportRepo

    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        thread.join()
        return
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("importing", total=None)
        while thread.is_alive():
            thread.join(0.2)
            with app.sessions() as s:
                record = ImportRepo(s).get(import_id)
                progress.update(task, total=max(record.total_records, 1),
                                completed=record.processed)


@contacts.command("list")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.option("--status", type=_enum(t.ContactStatus))
@click.option("--search", default="")
@click.option("--limit", type=click.IntRange(1), default=None)
@json_option
@pass_app
def contacts_list(app: App, campaign_key: str, status: str | None, search: str,
                  limit: int | None, as_json: bool) -> None:
    """List a campaign's contacts in queue order."""
    from storage.repos import CampaignRepo, ContactRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        rows = ContactRepo(s).list(c.id, status=t.ContactStatus(status) if status else None,
                                   search=search, limit=limit if limit or as_json else 200)
    out = [_contact_json(v) for v in rows]
    if as_json:
        emit(out)
        return
    table(f"Contacts of {c.name}", ["phone", "name", "status", "priority", "attempts",
                                    "goal", "last called"],
          [(o["phone"], o["name"], o["status"], o["priority"], o["attempts"],
            o["goal_result"] or "", o["last_called_at"] or "") for o in out])


@contacts.command("retry")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("contact", metavar="PHONE_OR_ID")
@pass_app
def contacts_retry(app: App, campaign_key: str, contact: str) -> None:
    """Retry a contact by hand: due now, with one more attempt."""
    from storage.repos import CampaignRepo, ContactRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        key = contact if contact.isdigit() else normalize(contact, c.region)
        before = ContactRepo(s).retry(c.id, key, c.settings, app.who, now())
    click.echo(f"{contact}: {before.value} -> retry")


@contacts.command("calls")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("contact", metavar="PHONE_OR_ID")
@json_option
@pass_app
def contacts_calls(app: App, campaign_key: str, contact: str, as_json: bool) -> None:
    """Show a contact's calls and their analysis."""
    from storage.repos import CallRepo, CampaignRepo, ContactRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        key = contact if contact.isdigit() else normalize(contact, c.region)
        row = ContactRepo(s).find(c.id, key)
        calls = [{"id": k.id, "started_at": k.started_at, "from": k.from_number,
                  "answer_status": k.answer_status, "sip_status": k.sip_status,
                  "ring_ms": k.ring_ms, "talk_ms": k.talk_ms, "amd": k.amd_label,
                  "amd_decision_ms": k.amd_decision_ms, "recording": k.recording_path,
                  "transcript": k.transcript} for k in CallRepo(s).for_contact(row.id)]
    if as_json:
        emit(calls)
        return
    table(f"Calls to {contact}", ["id", "started", "from", "answer", "sip", "talk ms", "amd"],
          [(k["id"], k["started_at"], k["from"], k["answer_status"], k["sip_status"],
            k["talk_ms"], k["amd"]) for k in calls])


@contacts.command("export")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.option("--format", "fmt", type=_enum(t.ExportFormat), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              required=True)
@json_option
@pass_app
def contacts_export(app: App, campaign_key: str, fmt: str, output: Path,
                    as_json: bool) -> None:
    """Export every contact with all metrics (CSV, CSV with semicolons, XLSX, JSON)."""
    from storage.services import export_contacts

    result = export_contacts(app.sessions, campaign_key, t.ExportFormat(fmt), output, app.who)
    if as_json:
        emit(result)
    else:
        click.echo(f"exported {result['rows']} contacts to {output}")


@contacts.command("exports")
@click.argument("campaign_key", metavar="CAMPAIGN")
@json_option
@pass_app
def contacts_exports(app: App, campaign_key: str, as_json: bool) -> None:
    """Export history of a campaign."""
    from storage.repos import CampaignRepo, ExportRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        rows = [{"id": e.id, "format": e.format, "path": e.path, "rows": e.rows,
                 "by": e.created_by, "at": e.created_at} for e in ExportRepo(s).list(c.id)]
    if as_json:
        emit(rows)
        return
    table(f"Exports of {c.name}", ["id", "at", "format", "rows", "by", "path"],
          [(r["id"], r["at"], r["format"], r["rows"], r["by"], r["path"]) for r in rows])


# --- dashboard -------------------------------------------------------------------------

@cli.command("dashboard")
@click.argument("campaign_key", metavar="CAMPAIGN")
@json_option
@pass_app
def dashboard_cmd(app: App, campaign_key: str, as_json: bool) -> None:
    """Quick stats, status and goal breakdowns, answer rates and the human-answer heatmap."""
    from campaigns.dashboard import dashboard_to_dict
    from storage.services import dashboard

    c, d = dashboard(app.sessions, campaign_key)
    out = {"campaign": {"id": c.id, "name": c.name, "status": c.status.value,
                        "timezone": c.timezone}, **dashboard_to_dict(d)}
    if as_json:
        emit(out)
        return
    from dialer.render import print_dashboard

    print_dashboard(c, d)


# --- goals and analyses ----------------------------------------------------------------

@cli.group()
def goals() -> None:
    """Campaign goals: add, edit, archive, restore, list."""


@goals.command("add")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("name")
@click.option("--description", default="")
@click.option("--primary", is_flag=True, help="Make this the primary goal.")
@pass_app
def goals_add(app: App, campaign_key: str, name: str, description: str, primary: bool) -> None:
    """Add a goal."""
    from storage.repos import CampaignRepo, GoalRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        g = GoalRepo(s).add(c.id, name, app.who, now(), description=description,
                            primary=primary)
    click.echo(f"goal {g.id} {g.name!r}{' (primary)' if g.primary else ''}")


@goals.command("edit")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("goal", metavar="NAME_OR_ID")
@click.option("--name")
@click.option("--description")
@click.option("--primary/--secondary", default=None)
@pass_app
def goals_edit(app: App, campaign_key: str, goal: str, name: str | None,
               description: str | None, primary: bool | None) -> None:
    """Edit a goal."""
    from storage.repos import CampaignRepo, GoalRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        g = GoalRepo(s).edit(c.id, goal, app.who, now(), name=name, description=description,
                             primary=primary)
    click.echo(f"goal {g.id} {g.name!r} updated")


def _goal_archive(app: App, campaign_key: str, goal: str, archived: bool) -> None:
    from storage.repos import CampaignRepo, GoalRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        g = GoalRepo(s).set_archived(c.id, goal, archived, app.who, now())
    click.echo(f"goal {g.name!r} {'archived' if archived else 'restored'}")


@goals.command("archive")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("goal", metavar="NAME_OR_ID")
@pass_app
def goals_archive(app: App, campaign_key: str, goal: str) -> None:
    """Archive a goal (it stops being judged)."""
    _goal_archive(app, campaign_key, goal, True)


@goals.command("restore")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("goal", metavar="NAME_OR_ID")
@pass_app
def goals_restore(app: App, campaign_key: str, goal: str) -> None:
    """Restore an archived goal."""
    _goal_archive(app, campaign_key, goal, False)


@goals.command("list")
@click.argument("campaign_key", metavar="CAMPAIGN")
@json_option
@pass_app
def goals_list(app: App, campaign_key: str, as_json: bool) -> None:
    """List goals, primary first."""
    from storage.repos import CampaignRepo, GoalRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        rows = [{"id": g.id, "name": g.name, "description": g.description,
                 "primary": g.primary, "archived": g.archived} for g in GoalRepo(s).list(c.id)]
    if as_json:
        emit(rows)
        return
    table(f"Goals of {c.name}", ["id", "name", "primary", "archived", "description"],
          [(r["id"], r["name"], r["primary"], r["archived"], r["description"]) for r in rows])


@cli.group()
def analyses() -> None:
    """Questions asked of every conversation."""


@analyses.command("add")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("name")
@click.option("--question", required=True)
@click.option("--kind", type=_enum(t.AnalysisKind), required=True)
@click.option("--option", "options", multiple=True, help="A choice (repeat).")
@click.option("--scale", default="1-5", show_default=True, help="Rating scale min-max.")
@click.option("--data-type", type=_enum(t.DataPointType), default="text")
@pass_app
def analyses_add(app: App, campaign_key: str, name: str, question: str, kind: str,
                 options: tuple[str, ...], scale: str, data_type: str) -> None:
    """Add an analysis question."""
    from storage.repos import AnalysisRepo, CampaignRepo

    low, high = _scale(scale)
    spec = t.Analysis(id=0, name=name, question=question, kind=t.AnalysisKind(kind),
                      options=options, scale_min=low, scale_max=high,
                      data_type=t.DataPointType(data_type))
    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        a = AnalysisRepo(s).add(c.id, spec, app.who, now())
    click.echo(f"analysis {a.id} {a.name!r} ({a.kind.value})")


def _scale(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split("-", 1))
    except ValueError as exc:
        raise BadInput(f"scale {text!r} is not like 1-5") from exc
    return low, high


@analyses.command("edit")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("analysis", metavar="NAME_OR_ID")
@click.option("--name")
@click.option("--question")
@click.option("--option", "options", multiple=True)
@click.option("--scale")
@pass_app
def analyses_edit(app: App, campaign_key: str, analysis: str, name: str | None,
                  question: str | None, options: tuple[str, ...], scale: str | None) -> None:
    """Edit an analysis."""
    changes: dict[str, Any] = {}
    if name:
        changes["name"] = name
    if question:
        changes["question"] = question
    if options:
        changes["options"] = options
    if scale:
        changes["scale_min"], changes["scale_max"] = _scale(scale)
    if not changes:
        raise BadInput("nothing to change")
    _analysis_update(app, campaign_key, analysis, "updated", **changes)


def _analysis_update(app: App, campaign_key: str, analysis: str, verb: str,
                     **changes: Any) -> None:
    from storage.repos import AnalysisRepo, CampaignRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        a = AnalysisRepo(s).update(c.id, analysis, app.who, now(), **changes)
    click.echo(f"analysis {a.name!r} {verb}")


@analyses.command("toggle")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("analysis", metavar="NAME_OR_ID")
@click.option("--on/--off", "active", required=True)
@pass_app
def analyses_toggle(app: App, campaign_key: str, analysis: str, active: bool) -> None:
    """Turn an analysis on or off."""
    _analysis_update(app, campaign_key, analysis, "on" if active else "off", active=active)


@analyses.command("archive")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("analysis", metavar="NAME_OR_ID")
@pass_app
def analyses_archive(app: App, campaign_key: str, analysis: str) -> None:
    """Archive an analysis."""
    _analysis_update(app, campaign_key, analysis, "archived", archived=True)


@analyses.command("restore")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.argument("analysis", metavar="NAME_OR_ID")
@pass_app
def analyses_restore(app: App, campaign_key: str, analysis: str) -> None:
    """Restore an archived analysis."""
    _analysis_update(app, campaign_key, analysis, "restored", archived=False)


@analyses.command("list")
@click.argument("campaign_key", metavar="CAMPAIGN")
@json_option
@pass_app
def analyses_list(app: App, campaign_key: str, as_json: bool) -> None:
    """List analyses."""
    from storage.repos import AnalysisRepo, CampaignRepo

    with tx(app) as s:
        c = CampaignRepo(s).get(campaign_key)
        rows = [{"id": a.id, "name": a.name, "question": a.question, "kind": a.kind.value,
                 "options": list(a.options), "scale": [a.scale_min, a.scale_max],
                 "data_type": a.data_type.value, "active": a.active, "archived": a.archived}
                for a in AnalysisRepo(s).list(c.id)]
    if as_json:
        emit(rows)
        return
    table(f"Analyses of {c.name}", ["id", "name", "kind", "active", "archived", "question"],
          [(r["id"], r["name"], r["kind"], r["active"], r["archived"], r["question"])
           for r in rows])


# --- schedules, agents, DNC, audit -----------------------------------------------------

@cli.group()
def schedule() -> None:
    """Business-hours schedules."""


@schedule.command("create")
@click.argument("name")
@click.option("--timezone", required=True)
@click.option("--hours", required=True, help='e.g. "mon-fri 09:00-17:00; sat 10:00-14:00"')
@click.option("--closed", "closed", multiple=True, help="A closed date YYYY-MM-DD (repeat).")
@json_option
@pass_app
def schedule_create(app: App, name: str, timezone: str, hours: str, closed: tuple[str, ...],
                    as_json: bool) -> None:
    """Create a schedule from weekly hours plus closed dates."""
    from datetime import date

    from campaigns.schedule import DateException, Schedule, parse_weekly, schedule_to_dict
    from storage.repos import ScheduleRepo

    try:
        days = tuple(DateException(day=date.fromisoformat(d)) for d in closed)
    except ValueError as exc:
        raise BadInput(f"closed dates must be YYYY-MM-DD: {exc}") from exc
    sched = Schedule(timezone=t.check_timezone(timezone), windows=parse_weekly(hours),
                     exceptions=days)
    with tx(app) as s:
        sid = ScheduleRepo(s).create(name, timezone, schedule_to_dict(sched), app.who, now())
    emit({"id": sid, "name": name}) if as_json else click.echo(f"schedule {sid} {name!r}")


@schedule.command("list")
@json_option
@pass_app
def schedule_list(app: App, as_json: bool) -> None:
    """List schedules and whether each is open now."""
    from campaigns.schedule import format_weekly, is_open, schedule_from_dict
    from storage.repos import ScheduleRepo

    with tx(app) as s:
        rows = []
        for r in ScheduleRepo(s).list():
            sched = schedule_from_dict(r.definition)
            rows.append({"id": r.id, "name": r.name, "timezone": r.timezone,
                         "hours": format_weekly(sched.windows),
                         "open_now": is_open(sched, now())})
    if as_json:
        emit(rows)
        return
    table("Schedules", ["id", "name", "timezone", "hours", "open now"],
          [(r["id"], r["name"], r["timezone"], r["hours"], r["open_now"]) for r in rows])


@cli.group()
def agents() -> None:
    """Voice agents."""


@agents.command("create")
@click.argument("name")
@click.option("--instructions", default="")
@click.option("--voice", default="alloy")
@click.option("--first-message", default="")
@click.option("--voicemail-message", default="")
@pass_app
def agents_create(app: App, name: str, instructions: str, voice: str, first_message: str,
                  voicemail_message: str) -> None:
    """Create a voice agent."""
    from storage.repos import AgentRepo

    with tx(app) as s:
        aid = AgentRepo(s).create(name, app.who, now(), instructions=instructions, voice=voice,
                                  first_message=first_message,
                                  voicemail_message=voicemail_message)
    click.echo(f"agent {aid} {name!r}")


@cli.group()
def dnc() -> None:
    """The do-not-call list."""


@dnc.command("add")
@click.argument("phones", nargs=-1, required=True)
@click.option("--region", default="US")
@click.option("--reason", default="")
@pass_app
def dnc_add(app: App, phones: tuple[str, ...], region: str, reason: str) -> None:
    """Add numbers to the do-not-call list."""
    from storage.repos import DncRepo

    e164s = [normalize(p, region) for p in phones]
    with tx(app) as s:
        added = DncRepo(s).add(e164s, app.who, now(), reason=reason)
    click.echo(f"{added} added to the do-not-call list")


_DNC_SOURCE_CHARS = 200  # the dnc.source column (storage.models.DncEntry)


@dnc.command("import")
@click.argument("path", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False,
                                                         exists=True))
@click.option("--region", default="US")
@json_option
@pass_app
def dnc_import(app: App, path: Path, region: str, as_json: bool) -> None:
    """Import a do-not-call list (CSV with a phone column, or one number per line)."""
    from campaigns.importing import MAX_IMPORT_BYTES, ImportTooLarge, parse_contacts_csv
    from storage.repos import DncRepo
    from storage.services import read_limited

    data = read_limited(path, MAX_IMPORT_BYTES)
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportTooLarge(path.stat().st_size, MAX_IMPORT_BYTES)
    text = data.removeprefix(b"\xef\xbb\xbf")
    first = next((line for line in text.decode("utf-8", "replace").splitlines()
                  if line.strip()), "")
    # A bare list of numbers gets a header line; error lines then count from the file's
    # own first line again (1-based, as contacts import reports them).
    header = 0 if any(ch.isalpha() for ch in first) else 1
    parsed = parse_contacts_csv(b"phone\n" + text if header else data,
                                default_region=region)
    with tx(app) as s:
        added = DncRepo(s).add([r.phone for r in parsed.rows], app.who, now(),
                               source=f"import:{path.name}"[:_DNC_SOURCE_CHARS])
    out = {"added": added, "errors": [{"line": e.line - header, "reason": e.reason}
                                      for e in parsed.errors]}
    if as_json:
        emit(out)
    else:
        click.echo(f"{added} added, {len(parsed.errors)} bad rows")


@dnc.command("list")
@json_option
@pass_app
def dnc_list(app: App, as_json: bool) -> None:
    """Show the do-not-call list (newest first)."""
    from storage.repos import DncRepo

    with tx(app) as s:
        rows = [{"phone": d.phone, "reason": d.reason, "source": d.source,
                 "added_at": d.created_at} for d in DncRepo(s).list()]
    if as_json:
        emit(rows)
        return
    table("Do not call", ["phone", "reason", "source", "added"],
          [(r["phone"], r["reason"], r["source"], r["added_at"]) for r in rows])


@cli.command("audit")
@click.option("--limit", type=click.IntRange(1, 10000), default=50)
@json_option
@pass_app
def audit_cmd(app: App, limit: int, as_json: bool) -> None:
    """The newest audit log entries: who changed what, when, from where."""
    from storage.repos import AuditRepo

    with tx(app) as s:
        rows = [{"at": a.at, "actor": a.actor, "source": a.source, "action": a.action,
                 "entity": a.entity, "entity_id": a.entity_id, "details": a.details}
                for a in AuditRepo(s).recent(limit)]
    if as_json:
        emit(rows)
        return
    table("Audit log", ["at", "actor", "source", "action", "entity", "details"],
          [(r["at"], r["actor"], r["source"], r["action"], f"{r['entity']} {r['entity_id']}",
            r["details"]) for r in rows])


@cli.command("demo")
@click.option("--contacts", "n_contacts", type=click.IntRange(1, 100_000), default=None,
              help="Contacts to call [default: 60; 200 with --simulated].")
@click.option("--numbers", "n_numbers", type=click.IntRange(1, 50), default=4,
              show_default=True, help="Caller-ID numbers (one number actor each).")
@click.option("--chaos", is_flag=True,
              help="SIGKILL campaign and number actor processes at random moments.")
@click.option("--simulated", is_flag=True,
              help="Campaign logic only, on a simulated clock: no Ray, no SIP (seconds).")
@click.option("--ray-dashboard", is_flag=True, help="Start Ray's dashboard (127.0.0.1).")
@click.option("--seed", type=int, default=7, show_default=True)
@json_option
@pass_app
def demo_cmd(app: App, n_contacts: int | None, n_numbers: int, chaos: bool, simulated: bool,
             ray_dashboard: bool, seed: int, as_json: bool) -> None:
    """Run a whole campaign on embedded defaults, live, and show the dashboard.

    SQLite, a local Ray (127.0.0.1), one number actor per caller ID placing real SIP
    calls to a built-in simulated trunk, AMD, the scripted agent and voicemail drops.
    """
    if simulated:
        from dialer.demo_simulated import run_simulated_demo

        summary = run_simulated_demo(n_contacts=n_contacts or 200, n_numbers=n_numbers,
                                     chaos=chaos, seed=seed, quiet=as_json)
    else:
        from dialer.demo import run_demo
        from dialer.judge_commands import judge_config, voice_config

        summary = run_demo(n_contacts=n_contacts or 60, n_numbers=n_numbers, chaos=chaos,
                           seed=seed, quiet=as_json, ray_dashboard=ray_dashboard,
                           judge=judge_config(app.settings),
                           voice=voice_config(app.settings))
    if as_json:
        sys.stdout.flush()
    emit(summary)

