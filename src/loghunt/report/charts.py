"""The report's charts, each a :class:`~loghunt.report.svg.Figure` built from summary numbers.

Inputs are already reduced (histogram counts, downsampled curves, a sample of points), so a
chart's size does not grow with the number of events. Colours are CSS classes (``c0``..``c9``
per series, ``r0``..``r7`` for a score ramp) defined in the report's stylesheet.

Examples
--------
>>> import numpy as np
>>> fig = vote_chart(np.array([900, 80, 20]), np.array([0, 5, 20]))
>>> sum(e.tag == "rect" for e in fig.elements) >= 3
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loghunt.report.svg import Figure, Scale, fmt_number, points

Array = NDArray[np.float64]
N_SERIES_COLOURS = 10
N_RAMP = 8
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 12, 40


@dataclass(frozen=True)
class Curve:
    """One line of a line chart: pixel-free data and its legend label."""

    label: str
    x: Array
    y: Array


@dataclass(frozen=True)
class Frame:
    """A figure with its plot area and the scales that map data into it."""

    fig: Figure
    x: Scale
    y: Scale


def frame(
    title: str,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    xlabel: str,
    ylabel: str,
    *,
    xlog: bool = False,
    ylog: bool = False,
    width: int = 560,
    height: int = 260,
    xticks: Sequence[float] | None = None,
) -> Frame:
    """A figure with axes, grid lines and tick labels already drawn (``xticks`` overrides)."""
    fig = Figure(title, width=width, height=height)
    x = Scale(xlim[0], xlim[1], _LEFT, width - _RIGHT, xlog)
    y = Scale(ylim[0], ylim[1], height - _BOTTOM, _TOP, ylog)
    for t in y.ticks(5):
        py = y(t)
        fig.add("line", x1=_LEFT, x2=width - _RIGHT, y1=py, y2=py, cls="gridline")
        fig.add("text", x=_LEFT - 6, y=py + 4, anchor="end", cls="tick", text=fmt_number(t))
    for t in x.ticks(6) if xticks is None else xticks:
        px = x(t)
        fig.add("line", x1=px, x2=px, y1=height - _BOTTOM, y2=height - _BOTTOM + 4, cls="axis")
        fig.add(
            "text", x=px, y=height - _BOTTOM + 16, anchor="middle", cls="tick", text=fmt_number(t)
        )
    fig.add(
        "line", x1=_LEFT, x2=width - _RIGHT, y1=height - _BOTTOM, y2=height - _BOTTOM, cls="axis"
    )
    fig.add("line", x1=_LEFT, x2=_LEFT, y1=_TOP, y2=height - _BOTTOM, cls="axis")
    fig.add(
        "text",
        x=(_LEFT + width - _RIGHT) / 2,
        y=height - 6,
        anchor="middle",
        cls="label",
        text=xlabel,
    )
    fig.add(
        "text",
        x=14,
        y=(_TOP + height - _BOTTOM) / 2,
        anchor="middle",
        cls="label",
        transform=f"rotate(-90 14 {(_TOP + height - _BOTTOM) / 2:.0f})",
        text=ylabel,
    )
    return Frame(fig, x, y)


def histogram_chart(
    title: str,
    edges: Array,
    counts: NDArray[np.int64],
    flagged: NDArray[np.int64],
    xlabel: str,
    marks: Sequence[tuple[float, str]] = (),
) -> Figure:
    """Bars of all events (grey) with the flagged share on top (red); log-scaled counts.

    ``marks`` are vertical lines such as the threshold: (value, label).
    """
    top = max(float(counts.max(initial=1)), 1.0)
    f = frame(
        title,
        (float(edges[0]), float(edges[-1])),
        (1.0, top * 1.5),
        xlabel,
        "events (log)",
        ylog=True,
    )
    base = f.y(1.0)
    for lo, hi, n, n_flag in zip(edges[:-1], edges[1:], counts, flagged, strict=True):
        if n <= 0:
            continue
        x0, x1 = f.x(float(lo)), f.x(float(hi))
        tip = (
            f"{fmt_number(float(lo))} to {fmt_number(float(hi))}: {n:,} events, {n_flag:,} flagged"
        )
        y_all = f.y(float(n))
        f.fig.add(
            "rect",
            x=x0,
            y=y_all,
            width=max(x1 - x0 - 0.5, 0.8),
            height=base - y_all,
            cls="bar",
            title=tip,
        )
        if n_flag > 0:
            y_flag = f.y(float(n_flag))
            f.fig.add(
                "rect",
                x=x0,
                y=y_flag,
                width=max(x1 - x0 - 0.5, 0.8),
                height=base - y_flag,
                cls="bar-flag",
                title=tip,
            )
    for row, (value, label) in enumerate(marks):
        _vmark(f, value, label, row)
    f.fig.legend = [("all events", "bar"), ("flagged", "bar-flag")]
    return f.fig


def sorted_chart(
    title: str, ranks: Array, scores: Array, marks: Sequence[tuple[float, str]] = ()
) -> Figure:
    """Scores from highest to lowest against their rank (log); ``marks`` are (rank, label)."""
    lo, hi = float(scores.min(initial=0.0)), float(scores.max(initial=1.0))
    pad = (hi - lo) * 0.05 or 1.0
    f = frame(
        title,
        (1.0, max(float(ranks.max(initial=2.0)), 2.0)),
        (lo - pad, hi + pad),
        "rank (log)",
        "score",
        xlog=True,
    )
    f.fig.add("polyline", points=points(f.x.many(ranks), f.y.many(scores)), cls="line c0")
    for row, (rank, label) in enumerate(marks):
        if rank >= 1:
            _vmark(f, rank, label, row)
    return f.fig


def vote_chart(counts: NDArray[np.int64], flagged: NDArray[np.int64]) -> Figure:
    """Events by number of detectors voting (bars), flagged share on top."""
    n = len(counts)
    f = frame(
        "Votes per event",
        (-0.5, n - 0.5),
        (1.0, max(float(counts.max(initial=1)), 1) * 1.5),
        "detectors voting",
        "events (log)",
        ylog=True,
        width=360,
        xticks=range(n),
    )
    base = f.y(1.0)
    width = (f.x(1.0) - f.x(0.0)) * 0.7
    for votes, (total, n_flag) in enumerate(zip(counts, flagged, strict=True)):
        tip = f"{votes} votes: {total:,} events, {n_flag:,} flagged"
        for value, cls in ((total, "bar"), (n_flag, "bar-flag")):
            if value > 0:
                y = f.y(float(value))
                f.fig.add(
                    "rect",
                    x=f.x(votes) - width / 2,
                    y=y,
                    width=width,
                    height=base - y,
                    cls=cls,
                    title=tip,
                )
    f.fig.legend = [("all events", "bar"), ("flagged", "bar-flag")]
    return f.fig


def heatmap_chart(title: str, names: Sequence[str], matrix: Array, lo: float = -1.0) -> Figure:
    """A square matrix as coloured cells with their values (agreement between detectors)."""
    n = len(names)
    cell = max(28, min(64, 360 // max(n, 1)))
    left, top = 110, 12
    fig = Figure(title, width=left + cell * n + 16, height=top + cell * n + 56)
    for i, row_name in enumerate(names):
        fig.add(
            "text",
            x=left - 6,
            y=top + cell * i + cell / 2 + 4,
            anchor="end",
            cls="tick",
            text=_short(row_name, 16),
            title=row_name,
        )
        for j, col_name in enumerate(names):
            value = float(matrix[i, j])
            level = int(np.clip((value - lo) / (1.0 - lo) * (N_RAMP - 1), 0, N_RAMP - 1))
            x, y = left + cell * j, top + cell * i
            fig.add(
                "rect",
                x=x,
                y=y,
                width=cell - 1,
                height=cell - 1,
                cls=f"r{level}",
                title=f"{row_name} / {col_name}: {value:.3f}",
            )
            fig.add(
                "text",
                x=x + cell / 2,
                y=y + cell / 2 + 4,
                anchor="middle",
                cls="cell-inv" if level < N_RAMP // 2 else "cell",
                text=f"{value:.2f}",
            )
    for j, col_name in enumerate(names):
        cx, cy = left + cell * j + cell / 2, top + cell * n + 8
        fig.add(
            "text",
            x=cx,
            y=cy,
            anchor="end",
            cls="tick",
            text=_short(col_name, 16),
            transform=f"rotate(-45 {cx:.0f} {cy:.0f})",
            title=col_name,
        )
    return fig


def line_chart(
    title: str,
    curves: Sequence[Curve],
    xlabel: str,
    ylabel: str,
    *,
    diagonal: bool = False,
    baseline: float | None = None,
    marks: Sequence[tuple[float, float, str]] = (),
) -> Figure:
    """Curves in [0, 1] x [0, 1] (ROC, precision-recall), one colour each, with a legend."""
    f = frame(title, (0.0, 1.0), (0.0, 1.0), xlabel, ylabel, width=420, height=300)
    if diagonal:
        f.fig.add("line", x1=f.x(0.0), y1=f.y(0.0), x2=f.x(1.0), y2=f.y(1.0), cls="ref")
    if baseline is not None:
        f.fig.add(
            "line",
            x1=f.x(0.0),
            y1=f.y(baseline),
            x2=f.x(1.0),
            y2=f.y(baseline),
            cls="ref",
            title=f"random: {baseline:.3f}",
        )
    for i, curve in enumerate(curves):
        colour = f"c{i % N_SERIES_COLOURS}"
        f.fig.add(
            "polyline",
            points=points(f.x.many(curve.x), f.y.many(curve.y)),
            cls=f"line {colour}",
            title=curve.label,
        )
        f.fig.legend.append((curve.label, colour))
    for i, (x, y, label) in enumerate(marks):
        tip = f"{label}: ({x:.3f}, {y:.3f})"
        f.fig.add(
            "circle", cx=f.x(x), cy=f.y(y), r=4.5, cls="dot" if i == 0 else "dot alt", title=tip
        )
        f.fig.add("text", x=f.x(x) + 7, y=f.y(y) - 6, cls="dot-label", text=label, title=tip)
    return f.fig


def scatter_chart(
    title: str,
    x: Array,
    y: Array,
    score: Array,
    flagged: NDArray[np.bool_],
    labelled: NDArray[np.bool_] | None,
    tips: Sequence[str],
    axis_names: tuple[str, str],
) -> Figure:
    """Points coloured by score (ramp); flagged ones drawn last and larger, labelled ringed."""
    xlim, ylim = _limits(x), _limits(y)
    f = frame(title, xlim, ylim, axis_names[0], axis_names[1], width=820, height=440)
    levels = np.clip((score * N_RAMP).astype(np.int64), 0, N_RAMP - 1)
    px, py = f.x.many(x), f.y.many(y)
    order = np.lexsort((score, flagged))  # normal first, then flagged, higher scores on top
    for i in order:
        ring = " truth" if labelled is not None and labelled[i] else ""
        f.fig.add(
            "circle",
            cx=float(px[i]),
            cy=float(py[i]),
            r=3.2 if flagged[i] else 2.0,
            cls=f"r{levels[i]}{' pt-flag' if flagged[i] else ' pt'}{ring}",
            title=tips[i],
        )
    f.fig.legend = [
        (f"score {k / N_RAMP:.2f}-{(k + 1) / N_RAMP:.2f}", f"r{k}") for k in range(0, N_RAMP, 2)
    ]
    f.fig.legend.append(("flagged: larger dot", "pt-flag"))
    if labelled is not None:
        f.fig.legend.append(("labelled attack: red ring", "truth"))
    return f.fig


def timeline_chart(
    starts: Sequence[str],
    totals: NDArray[np.int64],
    flagged: NDArray[np.int64],
    bin_label: str,
) -> Figure:
    """Flagged events per time bin (bars) over all events per bin (line, right-hand scale)."""
    n = len(totals)
    top = max(float(flagged.max(initial=1)), 1.0)
    f = frame(
        "Findings over time",
        (0.0, float(max(n, 1))),
        (0.0, top * 1.1),
        f"time ({bin_label} bins, UTC)",
        "flagged events",
        width=1100,
        height=260,
        xticks=(),
    )
    width = (f.x(1.0) - f.x(0.0)) * 0.85
    base = f.y(0.0)
    for i, n_flag in enumerate(flagged):
        if n_flag > 0:
            y = f.y(float(n_flag))
            f.fig.add(
                "rect",
                x=f.x(float(i)) + 0.5,
                y=y,
                width=max(width, 0.8),
                height=base - y,
                cls="bar-flag",
                title=f"{starts[i]}: {n_flag:,} flagged of {totals[i]:,}",
            )
    peak = max(float(totals.max(initial=1)), 1.0)
    xs = np.arange(n, dtype=np.float64) + 0.5
    ys = f.y.many(totals.astype(np.float64) / peak * top * 1.1)
    f.fig.add("polyline", points=points(f.x.many(xs), ys), cls="line volume")
    f.fig.add(
        "text",
        x=f.fig.width - _RIGHT,
        y=_TOP + 10,
        anchor="end",
        cls="tick",
        text=f"line: all events, peak {peak:,.0f} per bin",
    )
    step = max(1, n // 8)
    for i in range(0, n, step):
        px = f.x(float(i))
        f.fig.add(
            "line",
            x1=px,
            x2=px,
            y1=f.fig.height - _BOTTOM,
            y2=f.fig.height - _BOTTOM + 4,
            cls="axis",
        )
        f.fig.add(
            "text", x=px, y=f.fig.height - _BOTTOM + 16, anchor="start", cls="tick", text=starts[i]
        )
    f.fig.legend = [("flagged", "bar-flag"), ("all events (scaled)", "volume")]
    f.fig.wide = True
    return f.fig


def bar_chart(title: str, labels: Sequence[str], values: Sequence[int], unit: str) -> Figure:
    """Horizontal bars, largest first; labels come from logs and are shortened for display."""
    row = 20
    left, width = 190, 420
    fig = Figure(title, width=width, height=max(row * len(labels) + 24, 60))
    top = max(max(values, default=1), 1)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 6 + i * row
        length = (width - left - 60) * value / top
        tip = f"{label}: {value:,} {unit}"
        fig.add(
            "text",
            x=left - 6,
            y=y + 13,
            anchor="end",
            cls="tick",
            text=_short(label, 28),
            title=tip,
        )
        fig.add(
            "rect",
            x=left,
            y=y + 2,
            width=max(length, 1.0),
            height=row - 6,
            cls="bar-flag",
            title=tip,
        )
        fig.add("text", x=left + length + 4, y=y + 13, cls="tick", text=f"{value:,}")
    return fig


def downsample(x: Array, y: Array, n: int = 300) -> tuple[Array, Array]:
    """At most ``n`` evenly spaced points of a curve, always keeping its ends."""
    if x.size <= n:
        return x, y
    idx = np.unique(np.linspace(0, x.size - 1, n).round().astype(np.int64))
    return x[idx], y[idx]


def _vmark(f: Frame, value: float, label: str, row: int = 0) -> None:
    """A vertical line with its label; the first (row 0) is the one in force, later ones grey."""
    px = f.x(value)
    alt = " alt" if row else ""
    f.fig.add(
        "line",
        x1=px,
        x2=px,
        y1=_TOP,
        y2=f.fig.height - _BOTTOM,
        cls="mark" + alt,
        title=f"{label}: {fmt_number(value)}",
    )
    anchor = "end" if px > f.fig.width * 0.7 else "start"
    shift = -4 if anchor == "end" else 4
    f.fig.add(
        "text",
        x=px + shift,
        y=_TOP + 10 + 12 * row,
        anchor=anchor,
        cls="mark-label" + alt,
        text=label,
    )


def _limits(v: Array) -> tuple[float, float]:
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = float(np.min(v)), float(np.max(v))
    pad = (hi - lo) * 0.04 or 1.0
    return lo - pad, hi + pad


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
