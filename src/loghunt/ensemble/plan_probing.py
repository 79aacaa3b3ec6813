"""Probing: time every detector group on growing subsamples, within a budget of its own.

Each group first warms up, which is not charged to the budget: a run on 128 rows, untimed
(imports, thread pools, compilation: costs the run would pay anyway), a timed one, and the
first probe (2,000 rows) unless even that is expected to exceed the time budget. Then every
group probes its next size (8,000, 32,000, ... growing x4) that it can afford before any
group probes the size after it, the cheapest first. A group can afford a probe expected to
cost what it may still spend: an equal share of the budget, plus an equal share of what the
groups that are done left unspent. No dear probe thus takes what the other groups' next sizes
need, and what cheap groups leave goes to the dear ones. When no group can afford its next
probe, the dearest gives up, and its share goes to the others.

A probe's expected cost is fitted on the group's timings so far as a fixed cost plus one
growing at least linearly: a group whose small probes are mostly fixed cost (thread pools,
a fixed number of iterations, a sample) is not mistaken for one that grows x4 per round.
Probes that take less than 0.2 seconds run three times and the median counts.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from loghunt.ensemble.plan_costs import GroupCost
from loghunt.ensemble.plan_laws import fit_overhead_law, fit_power_law
from loghunt.ensemble.plan_runners import Runner
from loghunt.errors import ConfigError

#: Share of the time budget that all probing together may take, unless given.
PROBE_FRACTION = 0.25
_FIRST_PROBE = 2_000
#: Probe sizes grow by this factor: most of the information is in the largest probe, and
#: probing costs ~1.3x it (doubling: ~2x).
_GROWTH = 4
_LARGEST_PROBE = 128_000
#: Rows of the first, untimed run of each group, and of the tiny probe that follows.
_PRIME_ROWS = 128
_WARMUP_ROWS = 128
#: Probes shorter than this (wall or CPU seconds) run three times and the median counts: a
#: busy machine adds noise, most of all to short runs (a time slice lost to another process
#: doubles a 20 ms probe).
_REPEAT_BELOW_SECONDS = 0.2
#: Growth assumed of what a probe costs beyond its fixed part, for the next probe's cost.
_NEXT_RANGE = (1.0, 1.5)

Matrix = NDArray[np.float32]


@dataclass
class Prober:
    """The probes of one group so far, and the sizes still to try.

    Parts are timed in CPU seconds (all threads of the process), which a busy machine barely
    disturbs, so the shape of the cost is fitted on steady numbers; the group's wall seconds
    per CPU second over its runs (its parallelism and the machine's contention, the largest
    runs weighing most) turn the forecast back into wall seconds.
    """

    labels: tuple[str, ...]
    group: str
    runner: Runner
    pending: list[int]
    sizes: list[int] = field(default_factory=list)
    records: list[dict[str, float]] = field(default_factory=list)
    #: Wall and CPU seconds of each recorded probe.
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    #: The warm-up's tiny probe: (rows, CPU seconds per part, wall, CPU).
    warm: list[tuple[int, dict[str, float], float, float]] = field(default_factory=list)
    #: Wall and CPU seconds of every run but the first (which pays one-off costs).
    wall_total: float = 0.0
    cpu_total: float = 0.0
    spent: float = 0.0
    #: Wall seconds of the probes after the warm-up (those charged to the probing budget).
    charged: float = 0.0

    def _run(
        self, sub: Matrix, count: bool = True, tiny: bool = False
    ) -> tuple[dict[str, float], float, float]:
        """(CPU seconds per part, wall seconds, CPU seconds) of one run."""
        started, cpu_started = time.perf_counter(), time.process_time()
        record = self.runner.measure(sub, tiny)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        self.spent += wall
        if count:
            self.wall_total += wall
            self.cpu_total += cpu
        return record, wall, cpu

    def prime(self, data: Matrix, rng: np.random.Generator) -> None:
        """A first tiny run pays for lazy imports, thread pools and compilation (which the
        run would pay otherwise); it is not timed as a probe."""
        self._run(subsample(data, min(data.shape[0], _PRIME_ROWS), rng), False, True)

    def warm_up(self, data: Matrix, rng: np.random.Generator) -> None:
        """A tiny probe: it tells how much the first real probe will cost, and stands in for
        it when none is affordable."""
        size = min(data.shape[0], _WARMUP_ROWS)
        self.warm.append((size, *self._run(subsample(data, size, rng), True, True)))

    def step(self, data: Matrix, rng: np.random.Generator) -> None:
        """Probe the next size (the median of three runs when short)."""
        size = self.pending.pop(0)
        sub = subsample(data, size, rng)
        runs = [self._run(sub)]
        while len(runs) < 3 and min(runs[0][1:]) < _REPEAT_BELOW_SECONDS:
            runs.append(self._run(sub))
        runs.sort(key=lambda r: r[2])
        self._record(size, *runs[len(runs) // 2])
        self.charged += sum(r[1] for r in runs)

    def _record(self, size: int, record: dict[str, float], wall: float, cpu: float) -> None:
        self.sizes.append(size)
        self.records.append(record)
        self.walls.append(wall)
        self.cpus.append(cpu)

    @property
    def wall_per_cpu(self) -> float:
        return self.wall_total / self.cpu_total if self.cpu_total > 0 else 1.0

    def expected_next(self) -> float:
        """Wall seconds the next probe is expected to take (0 when none is left)."""
        if not self.pending:
            return 0.0
        rows = self.runner.cost_rows  # a capped sample stops the cost growing
        sizes = [rows(m) for m in [w[0] for w in self.warm] + self.sizes]
        seconds = [w[3] for w in self.warm] + self.cpus
        return next_probe_seconds(sizes, seconds, rows(self.pending[0])) * self.wall_per_cpu

    def cost(self) -> GroupCost:
        """The group's cost model from its probes. The warm-up's tiny probe stands in when
        nothing else was probed, and counts beside a single probed size where it ran as the
        full run will (it tells the fixed cost from the growing one)."""
        if not self.sizes:
            for tiny in self.warm:
                self._record(*tiny)
        sizes, records, warm = self.sizes, self.records, 0
        # Only beside a single size: next to more, a few milliseconds' fit would outweigh
        # the probes in relative errors while adding little.
        single = len(set(sizes)) == 1
        if single and self.runner.warm_up_in_regime and self.warm and self.warm[0][0] < sizes[0]:
            sizes, records, warm = [self.warm[0][0], *sizes], [self.warm[0][1], *records], 1
        return GroupCost(
            self.labels,
            self.group,
            tuple(self.runner.parts(sizes, records, warm)),
            tuple(self.sizes),
            tuple(self.walls),
            self.spent,
            self.wall_per_cpu,
        )


def next_probe_seconds(sizes: Sequence[int], seconds: Sequence[float], size: int) -> float:
    """What a probe of ``size`` rows costs, from the probes so far (0 without any): a fixed
    cost plus one growing at least linearly (``b`` in 1-1.5), and never less than the
    largest probe so far; linear from a single size.

    Examples
    --------
    >>> round(next_probe_seconds([128, 2_000], [1.0, 1.2], 8_000), 2)  # mostly fixed cost
    1.84
    >>> next_probe_seconds([2_000], [0.5], 8_000)
    2.0
    """
    if not sizes:
        return 0.0
    if len(set(sizes)) < 2:
        return fit_power_law(sizes, seconds, _NEXT_RANGE)(size)
    law = fit_overhead_law(sizes, seconds, _NEXT_RANGE)
    # The largest probe is a floor: a fit that sinks below it means noise, not economies.
    largest = max(t for m, t in zip(sizes, seconds, strict=True) if m == max(sizes))
    return max(law(size), largest)


def subsample(data: Matrix, size: int, rng: np.random.Generator) -> Matrix:
    """``size`` random rows of ``data`` in their order (all of it when not smaller)."""
    n = data.shape[0]
    return data if size >= n else data[np.sort(rng.choice(n, size, replace=False))]


def probe_within(
    groups: Sequence[Prober],
    data: Matrix,
    budget: float,
    time_budget: float,
    rng: np.random.Generator,
) -> float:
    """Warm every group up, then probe growing sizes, level by level and the cheapest first,
    each where it is expected to fit what its group may still spend of ``budget``; when none
    fits, the dearest group gives up its share.

    The warm-up is a tiny untimed run, a tiny timed one, and the first probe size unless
    that is expected to take longer than ``time_budget`` (the group is then over budget
    anyway). It is not charged to ``budget``; its seconds are returned.
    """
    with warnings.catch_warnings():
        # Subsamples make detectors clamp parameters and warn; the full run warns for real.
        warnings.simplefilter("ignore")
        warming = time.perf_counter()
        for g in groups:
            g.prime(data, rng)
        for g in groups:
            g.warm_up(data, rng)
            if g.pending and g.expected_next() <= time_budget:
                g.step(data, rng)
        for g in groups:
            g.charged = 0.0
        started = time.perf_counter()
        active = [g for g in groups if g.pending]
        while active:
            affordable = [
                g for g in active if g.expected_next() <= _allowance(g, active, groups, budget)
            ]
            if not affordable:
                # The dearest group gives up: its share goes to the others.
                active.remove(max(active, key=Prober.expected_next))
                continue
            # Every group's next size before any group's size after it, the cheapest first.
            g = min(affordable, key=lambda g: (len(g.sizes), g.expected_next()))
            g.step(data, rng)
            if not g.pending:
                active.remove(g)
    return started - warming


def _allowance(
    group: Prober, active: Sequence[Prober], groups: Sequence[Prober], budget: float
) -> float:
    """Seconds ``group`` may still spend: an equal share among the ``active`` groups of the
    budget that the others have not spent (or kept: they stopped), less what it spent."""
    released = budget - sum(g.charged for g in groups if g not in active)
    return released / len(active) - group.charged


def probe_sizes(n: int, sizes: Sequence[int] | None) -> list[int]:
    """Probe sizes for ``n`` rows: ``sizes`` (capped at ``n``), or by default 2,000 (or an
    eighth of ``n``) growing x4 up to 128,000, and ``n`` itself when no larger.

    >>> probe_sizes(300_000, None), probe_sizes(4_000, None)
    ([2000, 8000, 32000, 128000], [500, 2000, 4000])
    """
    if sizes is not None:
        chosen = sorted({min(int(s), n) for s in sizes if s > 1})
    else:
        size = min(_FIRST_PROBE, max(2, n // 8))
        chosen = []
        while size < n and size <= _LARGEST_PROBE:
            chosen.append(size)
            size *= _GROWTH
        if n <= _LARGEST_PROBE:
            chosen.append(n)  # the run itself, when it is cheap enough to probe
    if not chosen:
        raise ConfigError(f"no probe size fits {n} rows")
    return chosen
