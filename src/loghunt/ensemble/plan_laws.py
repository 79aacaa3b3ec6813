"""Power laws for the runtime planner: ``t = a * n ** b``, and a fixed cost plus a growing one.

Fitted on a few probe timings (seconds at growing subsample sizes) and extrapolated to the
size of the run by :mod:`loghunt.ensemble.plan_costs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from loghunt.errors import ConfigError

#: Share of the largest probe below which a fitted growth is taken as unseen.
_VISIBLE_GROWTH = 0.1
#: Relative error (RMS over the probes) that timing noise alone explains on a busy machine,
#: where repeats differ by 10-30%: a steeper growth must fit better than this to be believed.
_TIMING_NOISE = 0.07


@dataclass(frozen=True)
class PowerLaw:
    """``seconds = overhead + coefficient * n ** exponent``.

    >>> PowerLaw(1e-6, 2.0)(1_000), PowerLaw(1e-6, 1.0, overhead=0.5)(1_000)
    (1.0, 0.501)
    """

    coefficient: float
    exponent: float
    overhead: float = 0.0

    def __call__(self, n: float) -> float:
        return float(self.overhead + self.coefficient * n**self.exponent)


def fit_power_law(
    sizes: Sequence[float],
    seconds: Sequence[float],
    exponent_range: tuple[float, float] = (0.5, 2.5),
    single_exponent: float = 1.0,
) -> PowerLaw:
    """Least-squares fit of ``log t = log a + b log n``, larger probes weighted more.

    The exponent is clamped to ``exponent_range`` (the coefficient is then refitted); with a
    single distinct size it is ``single_exponent`` (clamped too).

    Examples
    --------
    >>> law = fit_power_law([1_000, 2_000, 4_000], [0.01, 0.04, 0.16])
    >>> round(law.exponent, 3), round(law(8_000), 3)
    (2.0, 0.64)
    """
    n = np.log(np.asarray(sizes, dtype=np.float64))
    t = np.log(np.maximum(np.asarray(seconds, dtype=np.float64), 1e-12))
    if n.size == 0 or n.size != t.size:
        raise ConfigError("fit_power_law needs as many timings as sizes, at least one")
    # Larger probes carry less fixed overhead and sit nearer the forecast: weight them more.
    weights = np.exp(n - n.max())
    exponent = single_exponent
    if np.ptp(n) > 0:
        exponent = float(np.polyfit(n, t, 1, w=np.sqrt(weights))[0])
    exponent = min(max(exponent, exponent_range[0]), exponent_range[1])
    log_a = float(np.average(t - exponent * n, weights=weights))
    return PowerLaw(math.exp(log_a), exponent)


def fit_overhead_law(
    sizes: Sequence[float],
    seconds: Sequence[float],
    exponent_range: tuple[float, float] = (1.0, 2.5),
) -> PowerLaw:
    """Fit ``t = c0 + c1 * n ** b`` with ``c0, c1 >= 0`` and ``b`` in ``exponent_range``.

    A fixed cost plus a growing one: the shape of learning that is set up once (thread pools,
    a sample, a fixed number of iterations) and then touches every row, which a pure power law
    fitted on small probes mistakes for slow growth. Relative errors, larger probes weighted
    more; ``b`` on a 0.05 grid, the smallest that fits about as well as the best, or within
    the timing noise (7% relative; two sizes: ``b = 1`` unless they grow faster than a line
    through the origin allows), and the smallest outright when the growing cost is under a
    tenth of the largest probe's.

    Examples
    --------
    >>> law = fit_overhead_law([2_000, 8_000, 32_000], [0.3, 0.6, 1.8])
    >>> round(law.overhead, 2), round(law.exponent, 2), round(law(128_000), 1)
    (0.2, 1.0, 6.6)
    """
    n = np.asarray(sizes, dtype=np.float64)
    t = np.maximum(np.asarray(seconds, dtype=np.float64), 1e-12)
    if n.size < 2 or np.ptp(n) == 0 or n.size != t.size:
        raise ConfigError("fit_overhead_law needs timings at two sizes at least")
    share = n / n.max()
    weights = share / t**2
    fits = []
    for b in np.arange(exponent_range[0], exponent_range[1] + 1e-9, 0.05):
        c0, c1 = _nonnegative_line(n**b, t, weights)
        fits.append((float(np.sum(weights * (c0 + c1 * n**b - t) ** 2)), PowerLaw(c1, b, c0)))
    good_enough = max(1.05 * min(e for e, _ in fits), _TIMING_NOISE**2 * float(share.sum()))
    law = next(law for error, law in fits if error <= good_enough)
    if law.coefficient * n.max() ** law.exponent < _VISIBLE_GROWTH * law(n.max()):
        # Growth too small to see in the probes: a steep sliver of it, fitted to noise, would
        # explode when extrapolated. Take the gentlest growth instead.
        law = fits[0][1]
    return PowerLaw(law.coefficient, round(float(law.exponent), 2), law.overhead)


def _nonnegative_line(
    x: NDArray[np.float64], t: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[float, float]:
    """Weighted least squares ``t ~ c0 + c1 x`` with both coefficients kept >= 0."""
    design = np.stack([np.ones_like(x), x], axis=1) * np.sqrt(w)[:, None]
    c0, c1 = np.linalg.lstsq(design, t * np.sqrt(w), rcond=None)[0]
    if c1 < 0:  # shrinking with size: noise around a fixed cost
        return float(np.sum(w * t) / np.sum(w)), 0.0
    if c0 < 0:  # growing faster than the line: all of it grows
        return 0.0, float(np.sum(w * x * t) / np.sum(w * x * x))
    return float(c0), float(c1)
