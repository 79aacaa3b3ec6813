"""The planner's cost model: a group's cost as parts that grow differently with the run's size.

A part (learning, scoring per row, building an index, searching per query) is timed at probe
sizes and extrapolated by its own law (:mod:`loghunt.ensemble.plan_laws`); a group's forecast
is the sum of its parts, turned from CPU into wall seconds by what its probes measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loghunt.ensemble.plan_laws import PowerLaw, fit_overhead_law, fit_power_law

#: Name of the group of neighbour detectors, planned as one with the graph they share.
NEIGHBOR_GROUP = "neighbours"
#: Exponent ranges. Learning is a fixed cost plus one growing at least linearly (a capped
#: sample makes the growing one stop at the cap) and, fitted on differences of small timings,
#: steeper than ^1.5 is mostly noise; per-row and per-query costs grow mildly with the model
#: (sorting, cache misses).
LEARN_RANGE = (1.0, 1.5)
PER_ROW_RANGE = (0.0, 0.2)
#: Added to every exponent of the conservative forecast, by the number of sizes probed.
_MARGIN = {1: 0.3, 2: 0.2}
_MARGIN_MANY = 0.1


@dataclass(frozen=True)
class CostPart:
    """One part of a group's cost, measured at probe sizes and extrapolated to the run.

    ``seconds[i]`` is the part's time at probe size ``sizes[i]``, per unit when the part is
    charged per unit (per scored row, per query): the run costs ``law(full_size) * units``.

    Examples
    --------
    >>> part = CostPart("score", (1_000, 2_000), (1e-6, 1e-6), 100_000, units=100_000)
    >>> round(part.forecast(), 3), round(part.law().exponent, 2)
    (0.1, 0.0)
    """

    name: str
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]
    full_size: int
    units: float = 1.0
    exponent_range: tuple[float, float] = (0.0, 2.5)
    #: Exponent when a single size was probed.
    single_exponent: float = 1.0
    #: Least exponent the conservative forecast assumes beyond the largest of fewer than
    #: three probed sizes.
    upper_floor: float = 0.0
    #: Fit a fixed cost plus a growing one (:func:`fit_overhead_law`), not a power law.
    overhead: bool = False
    #: How many of the sizes are warm-up runs: they pin a fixed cost, but the conservative
    #: forecast does not count them as probed sizes.
    warm_points: int = 0

    def law(self) -> PowerLaw:
        """The fitted law (per unit when charged per unit)."""
        if self.overhead and len(set(self.sizes)) > 1:
            return fit_overhead_law(self.sizes, self.seconds, self.exponent_range)
        if self.overhead:  # one size shows no growth: the single guess, not clamped
            return PowerLaw(
                float(np.mean(self.seconds)) / self.sizes[0] ** self.single_exponent,
                self.single_exponent,
            )
        return fit_power_law(self.sizes, self.seconds, self.exponent_range, self.single_exponent)

    def forecast(self) -> float:
        """Seconds at the full size."""
        return self.law()(self.full_size) * self.units

    def upper(self, margin: float) -> float:
        """Conservative seconds, growing by ``(full_size / largest) ** margin`` more; with
        fewer than three sizes probed, at least as ``size ** upper_floor`` from the largest."""
        largest = max(self.sizes)
        if self.full_size <= largest:
            return self.forecast()
        law, ratio = self.law(), self.full_size / largest
        base = law(self.full_size)
        if len(set(self.sizes[self.warm_points :])) < 3:
            base = max(base, law(largest) * ratio ** max(law.exponent, self.upper_floor))
        return float(base * ratio**margin * self.units)

    def describe(self) -> str:
        """``name ^b``, ``b`` the fitted exponent (of the per-unit cost when charged so), and
        the fixed CPU seconds when fitted."""
        law = self.law()
        fixed = f" +{law.overhead:.2g} s" if self.overhead and law.overhead else ""
        return f"{self.name} ^{law.exponent:.2f}{fixed}"


@dataclass(frozen=True)
class GroupCost:
    """A probed group: the detectors it runs, its cost parts and what probing it took."""

    labels: tuple[str, ...]
    group: str
    parts: tuple[CostPart, ...]
    #: Rows of each probe (reference rows for the neighbour group) and its total seconds.
    probe_sizes: tuple[int, ...]
    probe_seconds: tuple[float, ...]
    #: Seconds spent probing this group, warm-up and repeats included.
    probe_time: float = 0.0
    #: Wall seconds per second of the parts (which are CPU seconds when probed).
    wall_per_cpu: float = 1.0

    def forecast(self) -> float:
        """Forecast wall seconds of the full run (sum of the parts)."""
        return self.wall_per_cpu * sum(p.forecast() for p in self.parts)

    def upper(self) -> float:
        """Conservative forecast: what keep-or-drop decisions use."""
        margin = _MARGIN.get(len(set(self.probe_sizes)), _MARGIN_MANY)
        return self.wall_per_cpu * sum(p.upper(margin) for p in self.parts)

    def describe(self) -> str:
        parts = ", ".join(p.describe() for p in self.parts)
        return f"{parts}; wall/CPU {self.wall_per_cpu:.2f}"


def per_unit_part(
    name: str,
    sizes: Sequence[int],
    seconds: Sequence[float],
    full_size: int,
    units: int,
    exponents: tuple[float, float, float],
) -> CostPart:
    """A part charged per row or per query: seconds divided by the probe's rows.

    ``exponents`` is (low, high, guess for a single probed size) of the per-unit cost.

    Examples
    --------
    >>> part = per_unit_part("score", [1_000, 4_000], [0.01, 0.04], 100_000, 100_000, (0, 0.2, 0))
    >>> round(part.forecast(), 3)
    1.0
    """
    per = tuple(t / m for t, m in zip(seconds, sizes, strict=True))
    low, high, single = exponents
    return CostPart(name, tuple(sizes), per, full_size, units, (low, high), single, low)
