"""Rich renderings for the terminal: the dashboard and its heatmap."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from campaigns import types as t
from campaigns.dashboard import Dashboard

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SHADES = " ░▒▓█"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def heatmap_text(grid: tuple[tuple[int, ...], ...]) -> Text:
    """The 7×24 human-answer grid as shaded blocks, Monday first, hours across."""
    peak = max((max(row) for row in grid), default=0)
    text = Text("     " + "".join(f"{h:<3d}" if h % 3 == 0 else "   " for h in range(24)) + "\n")
    for day, row in zip(_DAYS, grid, strict=True):
        text.append(f"{day}  ")
        for count in row:
            level = 0 if not peak or not count else 1 + int(3 * count / peak)
            text.append(_SHADES[min(level, 4)] * 2 + " ", style="green" if count else "dim")
        text.append("\n")
    text.append(f"peak {peak} human answers in one hour-of-week cell", style="dim")
    return text


def dashboard_group(campaign: t.Campaign, d: Dashboard) -> Group:
    """The dashboard as one renderable."""
    q = d.quick_stats
    stats = Table.grid(padding=(0, 3))
    for label, value in (("calls", str(q.calls)), ("conversations", str(q.conversations)),
                         ("total talk", _duration(q.total_duration_s)),
                         ("average talk", _duration(q.average_duration_s)),
                         ("answer rate", _pct(q.answer_rate)),
                         ("goal achievement", _pct(q.goal_achievement_rate))):
        stats.add_row(Text(label, style="bold"), value)
    statuses = Table(title="Contacts by status", show_edge=False)
    statuses.add_column("status")
    statuses.add_column("count", justify="right")
    statuses.add_column("share", justify="right")
    for name, share in d.status_breakdown.items():
        statuses.add_row(name, str(share["count"]), _pct(share["share"]))
    answers = Table(title="Answer status", show_edge=False)
    answers.add_column("answer")
    answers.add_column("rate", justify="right")
    for name, rate in d.answer_rates.items():
        answers.add_row(name, _pct(rate))
    goals = Table(title="Primary goal", show_edge=False)
    goals.add_column("result")
    goals.add_column("count", justify="right")
    for name, share in d.goal_breakdown.items():
        goals.add_row(name, str(share["count"]))
    row = Table.grid(padding=(0, 4))
    row.add_row(statuses, answers, goals)
    return Group(
        Panel(stats, title=f"{campaign.name} · {campaign.status.value} · {campaign.timezone}"),
        row,
        Panel(heatmap_text(d.heatmap), title=f"Human answers by weekday and hour "
                                             f"({campaign.timezone})"),
    )


def print_dashboard(campaign: t.Campaign, d: Dashboard, console: Console | None = None) -> None:
    """Print the dashboard to the terminal."""
    (console or Console(highlight=False)).print(dashboard_group(campaign, d))
