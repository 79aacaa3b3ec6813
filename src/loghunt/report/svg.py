"""Minimal SVG building blocks: shapes as data, rendered by a Jinja macro with autoescaping.

Charts never concatenate markup: every shape is an :class:`Element` (tag, attributes, text) and
the template writes it, so a value taken from logs (an entity name in a bar label, a tooltip)
is escaped like any other template variable.

Examples
--------
>>> fig = Figure("Scores", width=200, height=100)
>>> fig.add("rect", x=0, y=0, width=10, height=5, cls="bar", title="<b>5</b>")
>>> fig.elements[0].tag, fig.elements[0].title
('rect', '<b>5</b>')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

_TAGS = frozenset({"rect", "line", "polyline", "circle", "text", "path"})
# Geometry and styling only: no event handlers, links or inline styles can be written.
_ATTRS = frozenset(
    {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height", "points", "d"}
    | {"class", "text-anchor", "dominant-baseline", "transform"}
)
# Python-safe keyword names for SVG attributes.
_RENAME = {"cls": "class", "anchor": "text-anchor", "baseline": "dominant-baseline"}


@dataclass(frozen=True)
class Element:
    """One SVG shape; ``title`` becomes a hover tooltip, ``text`` the content of a ``<text>``."""

    tag: str
    attrs: tuple[tuple[str, str], ...]
    text: str = ""
    title: str = ""


@dataclass
class Figure:
    """A chart: an SVG canvas of ``width`` x ``height`` user units and its shapes."""

    title: str
    width: int = 560
    height: int = 260
    elements: list[Element] = field(default_factory=list)
    #: Legend entries (label, CSS colour class) shown under the chart, in HTML.
    legend: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""
    #: Spans the full width of the section (the timeline).
    wide: bool = False

    def add(self, tag: str, *, text: str = "", title: str = "", **attrs: float | int | str) -> None:
        """Append a shape; attribute values are formatted compactly, names checked."""
        if tag not in _TAGS:
            raise ValueError(f"unsupported SVG tag {tag!r}")
        items = []
        for key, value in attrs.items():
            name = _RENAME.get(key, key.replace("_", "-"))
            if name not in _ATTRS:
                raise ValueError(f"unsupported SVG attribute {name!r}")
            items.append((name, _fmt(value)))
        self.elements.append(Element(tag, tuple(items), text, title))


@dataclass(frozen=True)
class Scale:
    """A linear (or log10) map from data values to pixels."""

    lo: float
    hi: float
    start: float
    stop: float
    log: bool = False

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(max(value, self.lo))
        span = hi - lo or 1.0
        return self.start + (v - lo) / span * (self.stop - self.start)

    def many(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        v = np.asarray(values, dtype=np.float64)
        lo, hi = self.lo, self.hi
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), np.log10(np.maximum(v, self.lo))
        span = hi - lo or 1.0
        return np.asarray(self.start + (v - lo) / span * (self.stop - self.start))

    def ticks(self, n: int = 5) -> list[float]:
        if self.log:
            first, last = math.floor(math.log10(self.lo)), math.ceil(math.log10(self.hi))
            return [10.0**e for e in range(first, last + 1) if self.lo <= 10.0**e <= self.hi]
        return nice_ticks(self.lo, self.hi, n)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (1, 2, 5 x 10^k steps).

    >>> nice_ticks(0.0, 1.0)
    [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    """
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9:
        ticks.append(round(k * step, 12))
        k += 1
    return ticks


def fmt_number(value: float) -> str:
    """Short tick labels: 1.2k, 3M, 0.05.

    >>> fmt_number(12500), fmt_number(0.25), fmt_number(3_000_000)
    ('12.5k', '0.25', '3M')
    """
    a = abs(value)
    if a >= 1e6:
        return f"{value / 1e6:.3g}M"
    if a >= 1e4:
        return f"{value / 1e3:.3g}k"
    if a >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.3g}"


def points(xs: NDArray[np.float64], ys: NDArray[np.float64]) -> str:
    """A polyline ``points`` attribute from pixel coordinates."""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))


def _fmt(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)
