"""``dialer judge CAMPAIGN [--contact ID] [--json]``: (re-)judge conversations with the LLM.

Without ``--contact`` every contact of the campaign with a conversation is judged again
(``--due`` judges only those the campaign loop would: completion timeout passed, not
judged since the last call). Without OpenAI settings the verdicts are Unknown with the
reason "no LLM configured", as the SPEC asks.

``judge_config`` and ``make_judge`` build the judge from the settings; the demo and the
runtime use them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from dialer.cli import App, BadInput, cli, emit, json_option, now, pass_app
from dialer.settings import Settings

if TYPE_CHECKING:  # openai takes a second to import: only the judge command pays for it
    from agent.judging import Judge
    from agent.llm import LlmConfig


def judge_config(settings: Settings) -> LlmConfig | None:
    """The judge's LLM settings, or None when no OpenAI-compatible server is configured."""
    from agent.llm import LlmConfig

    if not settings.openai_enabled:
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return LlmConfig(model=settings.judge_model, api_key=key,
                     base_url=settings.openai_base_url,
                     price_in_per_mtok=settings.judge_price_in_per_mtok,
                     price_out_per_mtok=settings.judge_price_out_per_mtok)


def voice_config(settings: Settings) -> LlmConfig | None:
    """The Realtime server for the voice agent, or None (the scripted agent)."""
    from agent.llm import LlmConfig

    if settings.voice_agent == "scripted":
        return None
    if not settings.openai_enabled:
        if settings.voice_agent == "realtime":
            raise BadInput("DIALER_VOICE_AGENT=realtime needs OPENAI_API_KEY or "
                           "OPENAI_BASE_URL")
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return LlmConfig(model=settings.realtime_model, api_key=key,
                     base_url=settings.openai_base_url)


def make_judge(settings: Settings) -> Judge:
    """A judge on the configured server (or one that answers Unknown without one)."""
    from agent.judging import Judge

    return Judge(judge_config(settings))


@cli.command("judge")
@click.argument("campaign_key", metavar="CAMPAIGN")
@click.option("--contact", "contact", metavar="PHONE_OR_ID",
              help="Judge only this contact (campaign-contact id or phone).")
@click.option("--due", "due_only", is_flag=True,
              help="Only contacts due for judging (completion timeout passed, not judged).")
@click.option("--workers", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Contacts judged at once.")
@json_option
@pass_app
def judge_cmd(app: App, campaign_key: str, contact: str | None, due_only: bool, workers: int,
              as_json: bool) -> None:
    """Judge the goals and analyses of a campaign's conversations again."""
    from campaigns.phones import normalize
    from storage.repos import CampaignRepo, ContactRepo

    if contact is not None and due_only:
        raise BadInput("--contact and --due cannot be combined")
    with app.sessions() as s:
        campaign = CampaignRepo(s).get(campaign_key)
        contact_ids: list[int] | None = None
        if contact is not None:
            key = contact if contact.isdigit() else normalize(contact, campaign.region)
            row = ContactRepo(s).find(campaign.id, key)
            if not row.conversation_count:
                raise BadInput(f"contact {contact} has no conversation to judge")
            contact_ids = [row.id]
    from actors.judging import judge_due, rejudge

    started = now()
    with make_judge(app.settings) as judge:
        if due_only:
            report = judge_due(app.sessions, campaign.id, judge, started, limit=1_000_000,
                               workers=workers)
        else:
            report = rejudge(app.sessions, campaign.id, judge, started,
                             contact_ids=contact_ids, workers=workers)
        llm = judge.enabled
    out: dict[str, Any] = {"campaign": campaign.id, **report.as_json(), "llm": llm}
    if contact_ids is not None:
        out["contact"] = report.details[0].as_json() if report.details else None
    if as_json:
        emit(out)
        return
    goals = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in out["goals"].items())
    click.echo(f"judged {out['contacts']} contact(s) of {campaign.name}: {goals}; "
               f"{out['analyses_ok']}/{out['analyses']} analyses answered; "
               f"{out['tokens']} tokens, ${out['cost_usd']:.4f}"
               + ("" if llm else " (no LLM configured: verdicts are unknown)"))
    detail = out.get("contact")
    if detail:
        for g in detail["goals"]:
            quote = f' "{g["evidence"]}"' if g["evidence"] else ""
            click.echo(f"  goal {g['goal_id']}: {g['result']} - {g['rationale']}{quote}")
        for a in detail["analyses"]:
            shown = a.get("answer") if a["ok"] else f"unknown ({a['reason']})"
            click.echo(f"  call {a['call_id']} analysis {a['analysis_id']}: {shown}")
