"""The human-answer heatmap as a PNG (matplotlib, Agg, no pyplot: safe off the main thread)."""

from __future__ import annotations

import io
from collections.abc import Sequence

from chatops import strings as s


def heatmap_png(grid: Sequence[Sequence[int]], timezone: str) -> bytes:
    """Render a 7×24 grid (Monday first) of human answers to PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow([list(row) for row in grid], aspect="auto", cmap="YlGn",
                        interpolation="nearest")
    axes.set_yticks(range(7), labels=list(s.WEEKDAYS))
    axes.set_xticks(range(0, 24, 2), labels=[f"{h:02d}" for h in range(0, 24, 2)])
    axes.set_xlabel("hour")
    axes.set_title(s.HEATMAP_TITLE.format(timezone=timezone))
    figure.colorbar(image, ax=axes, fraction=0.03)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
