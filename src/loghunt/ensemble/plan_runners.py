"""What one probe of a detector group times, in the regime the full run will use.

A group is one detector, or the neighbour detectors together with the graph they share. Its
runner fits it on a subsample, times the parts of its cost (CPU seconds) and turns the timings
of several probes into :class:`~loghunt.ensemble.plan_costs.CostPart` s. Detectors may declare,
as attributes, what their fit depends on: ``max_exact`` (most learning rows for the exact
solver: a probe uses the approximate one when the run will), ``fit_sample_rows`` or an integer
``max_samples`` (rows learnt from: the learn part is forecast at ``min(n, cap)`` rows).

Detectors other than the neighbour group are probed with BLAS on one thread, as the ensemble
fits them on a large matrix (side by side, one BLAS thread each): on a busy machine, BLAS
threads that wait on each other made small probes of PCA, OCSVM and Mahalanobis cost up to
30x more, at random, and their full fits 1.5-8x more.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from loghunt.detectors import detector_class, make_detector
from loghunt.detectors.base import Detector
from loghunt.ensemble.plan_costs import (
    LEARN_RANGE,
    NEIGHBOR_GROUP,
    PER_ROW_RANGE,
    CostPart,
    per_unit_part,
)
from loghunt.ensemble.presets import DetectorSpec
from loghunt.index import NeighborIndex

#: Attributes a detector may declare about its fit (see the module docstring).
_EXACT_ATTR = "max_exact"
_CAP_ATTRS = ("fit_sample_rows", "max_samples")
#: ``build_graph`` defaults the cost model must follow.
_REFERENCE_THRESHOLD = 200_000
_REFERENCE_SIZE = 100_000
_EXACT_THRESHOLD = 50_000
#: Rows scored, and queries searched, per probe: per-row costs barely change with more.
_UNIT_ROWS = 8_192
#: (low, high, guess when a single size was probed) per search method.
_BUILD_EXPONENTS = {"exact": (0.5, 1.5, 1.0), "ivf": (1.0, 1.6, 1.2), "hnsw": (1.0, 1.6, 1.2)}
#: Per query: exact search compares with every reference row, IVF with ~sqrt of them (measured
#: on CloudTrail features: ^0.2 below ~25,000 reference rows, where FAISS's lists hold ~39 rows,
#: ^0.3-0.5 above, where they grow with sqrt(rows)).
_QUERY_EXPONENTS = {"exact": (0.8, 1.2, 1.0), "ivf": (0.3, 0.6, 0.35), "hnsw": (0.3, 0.6, 0.35)}

Matrix = NDArray[np.float32]


@dataclass(frozen=True)
class ProbeSettings:
    """The ensemble's shared settings, which every probed detector must be built with."""

    n_neighbors: int
    metric: str
    random_state: int
    detector_params: dict[str, Mapping[str, Any]]

    def make(self, spec: DetectorSpec) -> Detector:
        """The detector as :class:`DetectorEnsemble` builds it."""
        cls = detector_class(spec.name)
        params: dict[str, Any] = {**spec.params, **self.detector_params.get(spec.label, {})}
        if cls.uses_neighbors:
            params.setdefault("n_neighbors", self.n_neighbors)
            params.setdefault("metric", self.metric)
        if "random_state" in inspect.signature(cls.__init__).parameters:
            params.setdefault("random_state", self.random_state)
        return make_detector(spec.name, **params)


class Runner(Protocol):
    """Times one group on a subsample and models its cost from several such timings."""

    def sizes(self, wanted: Sequence[int]) -> list[int]:
        """The probe sizes that tell something about the full run, from ``wanted``."""
        ...

    def measure(self, sub: Matrix, tiny: bool = False) -> dict[str, float]:
        """CPU seconds per part of one fit on ``sub`` (``tiny``: a warm-up run)."""
        ...

    def cost_rows(self, size: int) -> int:
        """The rows a probe of ``size`` rows costs by, mostly (those it learns from)."""
        ...

    @property
    def warm_up_in_regime(self) -> bool:
        """Whether a warm-up run (``tiny``) times what the full run does, so that it can
        count as a probe of the smallest size."""
        ...

    def parts(
        self, sizes: Sequence[int], records: Sequence[dict[str, float]], warm: int = 0
    ) -> list[CostPart]:
        """The cost parts, from the records ``measure`` gave at ``sizes`` (the first
        ``warm`` of them from warm-up runs)."""
        ...


def probe_groups(
    specs: Sequence[DetectorSpec], n: int, settings: ProbeSettings
) -> list[tuple[tuple[str, ...], str, Runner]]:
    """(labels, group, runner) per group, the neighbour group where its first member sits."""
    made = {s.label: (s, settings.make(s)) for s in specs}
    shared = [
        label
        for label, (_, det) in made.items()
        if det.uses_neighbors and getattr(det, "metric", None) == settings.metric
    ]
    groups: list[tuple[tuple[str, ...], str, Runner]] = []
    for label, (spec, det) in made.items():
        if label not in shared:
            groups.append(((label,), label, DetectorRunner(spec, det, n, settings)))
        elif label == shared[0]:
            members = tuple(made[x][0] for x in shared)
            k = max(int(getattr(made[x][1], "n_neighbors", 1)) for x in shared)
            groups.append((tuple(shared), NEIGHBOR_GROUP, GraphRunner(members, n, k, settings)))
    return groups


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, looked up once: a lookup takes ~5 ms, a tiny probe ~1 ms."""
    return ThreadpoolController()


def learning_cap(detector: Detector) -> int | None:
    """Most rows ``detector`` learns from, when it says so (``fit_sample_rows``, int
    ``max_samples``); it scores every row all the same."""
    for name in _CAP_ATTRS:
        value = getattr(detector, name, None)
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


@dataclass(frozen=True)
class DetectorRunner:
    """Times ``fit`` and ``score`` of one detector, in the solver regime of the full run."""

    spec: DetectorSpec
    detector: Detector
    n: int
    settings: ProbeSettings

    def sizes(self, wanted: Sequence[int]) -> list[int]:
        return list(wanted)

    @property
    def learn_rows(self) -> int:
        """Rows the full run learns from."""
        cap = learning_cap(self.detector)
        return self.n if cap is None else min(self.n, cap)

    def cost_rows(self, size: int) -> int:
        cap = learning_cap(self.detector)
        return size if cap is None else min(size, cap)

    @property
    def warm_up_in_regime(self) -> bool:
        max_exact = getattr(self.detector, _EXACT_ATTR, None)
        return not (isinstance(max_exact, int) and self.learn_rows > max_exact)

    def make(self, tiny: bool = False) -> Detector:
        """The detector, on the solver of the full run unless ``tiny`` (warm-up runs, where
        an approximate solver made for 100,000s of rows costs more than the exact one)."""
        det = self.settings.make(self.spec)
        if not tiny and not self.warm_up_in_regime:
            setattr(det, _EXACT_ATTR, 1)  # the approximate solver the full run will use
        return det

    def measure(self, sub: Matrix, tiny: bool = False) -> dict[str, float]:
        """CPU seconds of ``fit`` and of scoring the probe's rows, BLAS on one thread: as
        the ensemble fits a large matrix's detectors (side by side, one BLAS thread each),
        and steady, where BLAS threads waiting on each other on a busy machine make a
        2,000-row probe cost up to 30x more, at random."""
        det = self.make(tiny)
        with _blas().limit(limits=1, user_api="blas"):
            started = time.process_time()
            det.fit(sub)
            fitted = time.process_time()
            rows = min(sub.shape[0], _UNIT_ROWS)
            det.score(sub[:rows])
            # Scaled to the probe's rows: the share of fit that scoring the training rows takes.
            scored = (time.process_time() - fitted) * sub.shape[0] / rows
        return {"fit": fitted - started, "score": scored}

    def parts(
        self, sizes: Sequence[int], records: Sequence[dict[str, float]], warm: int = 0
    ) -> list[CostPart]:
        """Learn (in the rows learnt from; warm-up runs pin its fixed cost) and score (per
        row, from real probes only: a warm-up's few rows pay per-call costs per row)."""
        # Fit scores the training rows itself: its learning is what is left after scoring.
        score = [min(r["score"], r["fit"]) for r in records]
        learn = [max(r["fit"] - s, 1e-3 * r["fit"]) for r, s in zip(records, score, strict=True)]
        learn_rows = [self.cost_rows(m) for m in sizes]
        pinned = warm
        if warm and learn[1] * learn_rows[0] > learn[0] * learn_rows[1]:
            # Faster than linear from the warm-up run: no fixed cost to tell apart, and no
            # line through both; the probe stands alone.
            learn, learn_rows, pinned = learn[1:], learn_rows[1:], 0
        return [
            CostPart(
                "learn",
                tuple(learn_rows),
                tuple(learn),
                self.learn_rows,
                # Beside a warm-up run, whose few rows pay overheads of their own, a single
                # size tells a fixed cost from a growing one, not how fast the latter grows.
                exponent_range=(1.0, 1.0) if pinned else LEARN_RANGE,
                # One size cannot tell fixed from growing cost: the point guess is between
                # (~sqrt); decisions assume all of it grows at least linearly.
                single_exponent=0.5,
                upper_floor=1.0,
                overhead=True,
                warm_points=pinned,
            ),
            per_unit_part(
                "score", sizes[warm:], score[warm:], self.n, self.n, (*PER_ROW_RANGE, 0.0)
            ),
        ]


@dataclass(frozen=True)
class GraphRunner:
    """Times the shared graph as ``build_graph`` will make it at the full size (same method)
    on reference samples of growing size, and the neighbour detectors fitted on it.

    The full run indexes ``n_reference`` rows (all, or a 100,000-row sample above 200,000)
    and searches all ``n`` rows against them; a probe indexes ``r`` rows and searches each of
    them (its self graph), which times the build at ``r`` and the search per query at ``r``.
    """

    members: tuple[DetectorSpec, ...]
    n: int
    k: int
    settings: ProbeSettings

    @property
    def n_reference(self) -> int:
        sampled = self.n > max(_REFERENCE_THRESHOLD, _REFERENCE_SIZE)
        return _REFERENCE_SIZE if sampled else self.n

    @property
    def method(self) -> str:
        return "exact" if self.n * self.n_reference <= _EXACT_THRESHOLD**2 else "ivf"

    def sizes(self, wanted: Sequence[int]) -> list[int]:
        return sorted({min(s, self.n_reference) for s in wanted})

    def measure(self, sub: Matrix, tiny: bool = False) -> dict[str, float]:
        k = max(1, min(self.k, sub.shape[0] - 1))
        started = time.process_time()
        index = NeighborIndex(
            metric=self.settings.metric,
            method=self.method,
            tune_k=k,
            random_state=self.settings.random_state,
        ).fit(sub)
        built = time.process_time()
        r = sub.shape[0]
        if r > _UNIT_ROWS:  # the search per query, on some rows; the detectors need them all
            rows = np.sort(np.random.default_rng(r).choice(r, _UNIT_ROWS, replace=False))
            index.search_excluding(lambda start, stop: sub[rows[start:stop]], rows, k)
            return {
                "build": built - started,
                "search": (time.process_time() - built) * r / len(rows),
            }
        graph = index.self_graph(k)
        searched = time.process_time()
        for spec in self.members:
            self.settings.make(spec).fit(sub, graph=graph)
        return {
            "build": built - started,
            "search": searched - built,
            "detectors": time.process_time() - searched,
        }

    #: The warm-up's tiny graph says little about the index the run builds.
    warm_up_in_regime = False

    def cost_rows(self, size: int) -> int:
        return size

    def parts(
        self, sizes: Sequence[int], records: Sequence[dict[str, float]], warm: int = 0
    ) -> list[CostPart]:
        low, high, single = _BUILD_EXPONENTS[self.method]
        build = CostPart(
            "build",
            tuple(sizes),
            tuple(r["build"] for r in records),
            self.n_reference,
            exponent_range=(low, high),
            single_exponent=single,
            upper_floor=low,
        )
        search = [r["search"] for r in records]
        parts = [
            build,
            per_unit_part(
                "search", sizes, search, self.n_reference, self.n, _QUERY_EXPONENTS[self.method]
            ),
        ]
        fitted = [
            (m, r["detectors"]) for m, r in zip(sizes, records, strict=True) if "detectors" in r
        ]
        if fitted:  # timed on probes of up to _UNIT_ROWS rows (the smallest always are)
            sizes_fitted, seconds = zip(*fitted, strict=True)
            parts.append(
                per_unit_part(
                    "detectors", sizes_fitted, seconds, self.n, self.n, (*PER_ROW_RANGE, 0.0)
                )
            )
        return parts
