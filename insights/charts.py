"""The report's pictures, drawn server-side by matplotlib: SVG for the admin's pages, PNG for emails.

One drawing per chart, two formats: `trend_chart(points, fmt="svg" | "png")`, `distribution_chart(
distribution, fmt=...)`. matplotlib is imported on first use (it takes a moment) with its Agg canvas
and no pyplot, so no display and no global state: safe in web and worker threads. The SVG keeps its
text as text (readable by screen readers and searchable), scales to its container (no fixed width)
and has a <title>; the page also gives each chart a table.
"""

import io
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from insights.services.reports import TrendPoint

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Format = Literal["svg", "png"]

# Colours the page, the email and the tests share (the band colour is what the screenshot test finds).
LINE = "#1f5fa8"
BAND = "#9cc3ea"
BAND_COLOURS = {"detractor": "#d9534f", "passive": "#b8b8b8", "promoter": "#3c9d4e"}
TEXT = "#333333"


def _figure(width: float, height: float) -> "Figure":
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    figure.set_facecolor("white")
    return figure


def _render(figure: "Figure", fmt: Format, title: str) -> bytes:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "feedback-hub"}):
        figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    data = buffer.getvalue()
    if fmt == "svg":
        return _svg_responsive(data.decode(), title).encode()
    return data


def _svg_responsive(svg: str, title: str) -> str:
    """Scale to the container (no fixed size, the viewBox stays) and carry a title for screen readers."""
    svg = svg[svg.index("<svg") :]  # no XML prolog or DOCTYPE inside an HTML page
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    svg = svg.replace(
        ">", f' role="img" aria-label="{escaped.replace(chr(34), "&quot;")}"><title>{escaped}</title>', 1
    )
    return svg


def trend_chart(points: Sequence[TrendPoint], *, fmt: Format = "svg", title: str = "NPS over time") -> bytes:
    """The score at each point as a line, its 95 % interval as a shaded band; points without answers
    are left out. The y axis runs from -100 to 100 so that charts compare at a glance."""
    figure = _figure(8, 3.2)
    axes = figure.add_subplot()
    shown = [point for point in points if point.score.nps is not None]
    if shown:
        middles = [point.start + (point.end - point.start) / 2 for point in shown]
        lows = [point.score.low or 0.0 for point in shown]
        highs = [point.score.high or 0.0 for point in shown]
        axes.fill_between(middles, lows, highs, color=BAND, linewidth=0, label="95 % margin")  # type: ignore[arg-type]
        scores = [point.score.nps or 0.0 for point in shown]
        axes.plot(middles, scores, color=LINE, marker="o", markersize=3, label="NPS")  # type: ignore[arg-type]
        axes.legend(loc="lower left", frameon=False, fontsize=8)
        figure.autofmt_xdate()
    else:
        axes.text(0.5, 0.5, "No answers in this period", ha="center", va="center", transform=axes.transAxes)
    axes.set_ylim(-100, 100)
    axes.axhline(0, color="#888888", linewidth=0.6)
    axes.set_ylabel("NPS", color=TEXT)
    axes.grid(axis="y", color="#e5e5e5")
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    return _render(figure, fmt, title)


def distribution_chart(
    distribution: Sequence[int], *, fmt: Format = "svg", title: str = "Answers per score"
) -> bytes:
    """A bar per score 0-10, coloured by band (detractors red, passives grey, promoters green)."""
    figure = _figure(8, 2.4)
    axes = figure.add_subplot()
    colours = [BAND_COLOURS["detractor"]] * 7 + [BAND_COLOURS["passive"]] * 2 + [BAND_COLOURS["promoter"]] * 2
    axes.bar(range(11), list(distribution), color=colours)
    axes.set_xticks(range(11))
    axes.set_ylabel("answers", color=TEXT)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    return _render(figure, fmt, title)
