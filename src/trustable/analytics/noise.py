"""Noise from OpenDP: Laplace on sums, its discrete form on counts.

Each function takes true values and their L1 sensitivity (how much one customer can
change the whole vector, given the bounds the caller enforced) and returns noisy
values whose release costs exactly `epsilon`, as OpenDP's own privacy map confirms:
the scale is never worked out by hand and trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import opendp.prelude as dp

from trustable.core.errors import ConfigurationError

dp.enable_features("contrib")


def _checked(measurement: dp.Measurement, d_in: int | float, epsilon: float) -> dp.Measurement:
    spent = measurement.map(d_in)  # type: ignore[no-untyped-call]
    if spent > epsilon * (1 + 1e-9):
        raise ConfigurationError("OpenDP's privacy map exceeds the epsilon asked for")
    return measurement


def count_scale(sensitivity: int, epsilon: float) -> float:
    """The discrete Laplace scale that spends `epsilon` on counts of this sensitivity."""
    scale = sensitivity / epsilon
    domain = dp.vector_domain(dp.atom_domain(T=int))
    for _ in range(8):  # float rounding may leave the map a hair above epsilon
        found = dp.m.make_laplace(domain, dp.l1_distance(T=int), scale=scale)
        if found.map(sensitivity) <= epsilon:  # type: ignore[no-untyped-call]
            return scale
        scale = math.nextafter(scale, math.inf)
    return scale


def noisy_counts(values: Sequence[int], sensitivity: int, epsilon: float) -> list[int]:
    """Counts plus discrete Laplace noise; one customer moves the vector by at most
    `sensitivity` in L1."""
    if not values:
        return []
    scale = count_scale(sensitivity, epsilon)
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
    )
    released: list[int] = _checked(measurement, sensitivity, epsilon)([int(v) for v in values])
    return released


def sum_scale(sensitivity: float, epsilon: float) -> float:
    """The Laplace scale OpenDP needs for sums of this sensitivity at `epsilon`
    (a little above sensitivity/epsilon: it accounts for floating-point rounding)."""

    def make(scale: float) -> dp.Measurement:
        return dp.m.make_laplace(
            dp.vector_domain(dp.atom_domain(T=float, nan=False)),
            dp.l1_distance(T=float),
            scale=scale,
        )

    found: float = dp.binary_search_param(make, d_in=float(sensitivity), d_out=float(epsilon))
    return found


def noisy_sums(values: Sequence[float], sensitivity: float, epsilon: float) -> list[float]:
    """Sums (of values the caller clamped) plus Laplace noise."""
    if not values:
        return []
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=float, nan=False)),
        dp.l1_distance(T=float),
        scale=sum_scale(sensitivity, epsilon),
    )
    checked = _checked(measurement, float(sensitivity), epsilon)
    released: list[float] = checked([float(v) for v in values])
    return released
