"""The numbers behind the anomaly detector: deviations from causal baselines, standardized.

Every array here is indexed by point; entry ``j`` is computed from ``values[:j + 1]`` only (the
point itself and the ones before it), so a detector reading these arrays judges each point as a
live gateway would, without looking ahead. NaN means "not enough history yet".

Three checks, each a signed deviation (positive: above what was expected):

* **point** — how far the value lies outside the *envelope* of every baseline: the range of
  the last ``level`` points, and for each season the median, over the previous ``periods``
  periods, of the range of values within ``phase`` points of the same phase. A daily spike
  that recurs at 03:00, give or take an hour, lies inside the seasonal envelope.
* **shift** — the median of the last ``run`` points minus what was expected before that run
  began: the median of the ``baseline`` points before it, and for each season the median of
  the same-phase values. It catches sustained moves that no single point makes extreme.
* **range** — how far the value lies beyond the highest (or lowest) value of the last
  ``history`` points, as a fraction of that range: a new high or a new low.

A baseline says a point is normal when its own deviation is small. The point check keeps the
smallest deviation of the same sign over its baselines (zero when they disagree on the
direction), so a point is only unusual when *no* baseline explains it; the shift check does the
same among the baselines whose scale is within ``veto`` times the most accurate one's (the
recent level of a series with weekends moves every Saturday: it would explain any shift).

Each baseline's deviation is divided by the largest absolute deviation it showed over the last
``history`` points (floored at ``floor`` times the range of the values; for the shift check,
those ending half a run before, as a shift grows over its run), so a deviation of 1.2 is 20%
beyond anything seen in that window: the scale adapts to each series, and bursty series with
routine large excursions do not alert on every burst. A robust spread such as the MAD would
not: it measures the bulk of the residuals, and bursty series have heavy tails. The price:
after an anomaly, a smaller one within ``history`` points is not news.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Reducer = Callable[..., FloatArray]

_CHUNK = 1 << 20  # cells per block of a rolling window computation (bounds memory)


@dataclass(frozen=True)
class Layout:
    """Window lengths, in points, derived from the (shortest) season."""

    level: int  # recent level: the envelope of the last ``level`` points
    phase: int  # seasonal envelope: ± ``phase`` points around the same phase
    smoothing: int  # seasonal expectation: median of ± ``smoothing`` points at the phase
    periods: int  # seasonal references: the previous ``periods`` periods
    run: int  # shift check: the median of the last ``run`` points
    baseline: int  # shift check: the median of the ``baseline`` points before the run
    history: int  # scales and the range check look back ``history`` points
    refractory: int  # a new episode starts after this many normal points
    floor: float = 0.03  # scales are at least ``floor`` × the range of the values
    veto: float = 3.0  # shift check: baselines within ``veto`` × the best scale have a say

    @classmethod
    def for_seasons(cls, seasons: Sequence[int]) -> Layout:
        """Windows scaled to the shortest season (24 points without one): for 5-minute data
        with a daily season (288), a 1-hour level, ±2 h phase, 4-hour runs, a 2-day baseline,
        2 weeks of history and 12 hours of refractory period."""
        span = min(seasons) if seasons else 24
        run = max(3, span // 6)
        return cls(
            level=max(3, span // 24),
            phase=span // 12,
            smoothing=span // 144,
            periods=3,
            run=run,
            baseline=max(2 * run, 2 * span),
            history=max(14 * span, 2 * max(seasons, default=0), 30),
            refractory=max(3, span // 2),
        )


@dataclass(frozen=True)
class Deviations:
    """Standardized signed deviations per check, and the expectation, per point."""

    point: FloatArray
    shift: FloatArray
    range: FloatArray
    expected: FloatArray


def deviations(
    values: FloatArray,
    seconds: FloatArray | None,
    seasons: Sequence[int],
    layout: Layout,
    step: float | None = None,
) -> Deviations:
    """The three checks' standardized deviations of every point (see the module docstring).

    ``seconds``: the points' times (None: one step apart); seasons count in ``step`` seconds,
    by default the median gap so far at each point (``running_step``)."""
    x = values
    n = len(x)
    positions = np.arange(n, dtype=np.float64) if seconds is None else seconds
    given = step is not None and step > 0
    steps = np.full(n, float(step or 1.0)) if given else running_step(positions)
    low = trailing(x, layout.level, np.min)
    high = trailing(x, layout.level, np.max)
    point = [outside(x, low, high)]
    before = lagged(trailing(x, layout.baseline, np.median), layout.run - 1)
    shift = [rolling(x, layout.run, np.median) - before]
    centers: list[FloatArray] = []
    for season in seasons:
        if season < 2 or season >= n:
            continue
        references = same_phase(positions, season, layout.periods, layout.phase, steps)
        season_high = reference_median(centered(x, layout.phase, np.max), references)
        season_low = reference_median(centered(x, layout.phase, np.min), references)
        center = reference_median(centered(x, layout.smoothing, np.median), references)
        point.append(outside(x, season_low, season_high))
        shift.append(rolling(x - center, layout.run, np.median))
        centers.append(center)
    spread = past_extreme(x, layout.history, np.fmax) - past_extreme(x, layout.history, np.fmin)
    floor = layout.floor * spread
    gap = max(1, layout.run // 2)  # shifts grow over the run: compare with those before it
    return Deviations(
        point=agree([standardize(d, layout.history, floor) for d in point], math.inf),
        shift=agree([standardize(d, layout.history, floor, gap) for d in shift], layout.veto),
        range=range_excess(x, layout.history),
        expected=expectation(x, centers, trailing(x, layout.baseline, np.median)),
    )


def trailing(x: FloatArray, length: int, reduce: Reducer) -> FloatArray:
    """``reduce`` over the ``length`` points before each point (NaN for the first ones)."""
    return lagged(rolling(x, length, reduce), 1)


def rolling(x: FloatArray, length: int, reduce: Reducer) -> FloatArray:
    """``reduce`` over the ``length`` points ending at each point (NaN before that)."""
    n = len(x)
    out = np.full(n, np.nan)
    if length < 1 or n < length:
        return out
    windows = sliding_window_view(x, length)
    rows = max(1, _CHUNK // length)
    for start in range(0, len(windows), rows):
        block = windows[start : start + rows]
        out[length - 1 + start : length - 1 + start + len(block)] = reduce(block, axis=1)
    return out


def centered(x: FloatArray, half: int, reduce: Reducer) -> FloatArray:
    """``reduce`` over ``x[j - half : j + half + 1]`` at each ``j`` (NaN near the ends)."""
    return lead(rolling(x, 2 * half + 1, reduce), half)


def lagged(a: FloatArray, lag: int) -> FloatArray:
    """``a`` moved ``lag`` points later (``out[j] = a[j - lag]``), NaN-filled."""
    out = np.full(len(a), np.nan)
    if 0 <= lag < len(a):
        out[lag:] = a[: len(a) - lag]
    return out


def lead(a: FloatArray, shift: int) -> FloatArray:
    """``a`` moved ``shift`` points earlier (``out[j] = a[j + shift]``), NaN-filled."""
    out = np.full(len(a), np.nan)
    if 0 <= shift < len(a):
        out[: len(a) - shift] = a[shift:]
    return out


def outside(x: FloatArray, low: FloatArray, high: FloatArray) -> FloatArray:
    """How far ``x`` lies above ``high`` (positive) or below ``low`` (negative), else 0."""
    gap = np.where(x > high, x - high, np.where(x < low, x - low, 0.0))
    return np.where(np.isnan(low) | np.isnan(high), np.nan, gap)


def running_step(positions: FloatArray) -> FloatArray:
    """At each point, the median gap between consecutive positions up to it (1 before the
    first positive one): the step of the series so far, which seasons are counted in."""
    n = len(positions)
    step = np.ones(n)
    lower: list[float] = []  # a max-heap (negated) of the smaller half of the gaps
    upper: list[float] = []  # a min-heap of the larger half
    for j in range(1, n):
        gap = float(positions[j] - positions[j - 1])
        if lower and gap <= -lower[0]:
            heapq.heappush(lower, -gap)
        else:
            heapq.heappush(upper, gap)
        if len(lower) > len(upper) + 1:
            heapq.heappush(upper, -heapq.heappop(lower))
        elif len(upper) > len(lower):
            heapq.heappush(lower, -heapq.heappop(upper))
        middle = -lower[0] if len(lower) > len(upper) else (upper[0] - lower[0]) / 2
        step[j] = middle if middle > 0 else 1.0
    return step


def same_phase(
    positions: FloatArray, season: int, periods: int, phase: int, step: FloatArray
) -> list[IntArray]:
    """For each of the previous ``periods`` periods (``season`` steps each), the index of the
    point nearest the same phase, or -1 when no point lies within ``phase`` steps of it or when
    the window around it would reach the current point (so the references are strictly in the
    past)."""
    n = len(positions)
    index = np.arange(n)
    tolerance = (phase + 0.5) * step
    found = []
    for k in range(1, periods + 1):
        target = positions - k * season * step
        right = np.clip(np.searchsorted(positions, target), 0, n - 1)
        left = np.clip(right - 1, 0, n - 1)
        nearer = np.abs(positions[left] - target) < np.abs(positions[right] - target)
        nearest = np.where(nearer, left, right)
        usable = (
            (np.abs(positions[nearest] - target) <= tolerance)
            & (nearest + phase < index)
            & (target >= positions[0] - tolerance)
        )
        found.append(np.where(usable, nearest, -1))
    return found


def reference_median(a: FloatArray, references: list[IntArray]) -> FloatArray:
    """The median, over the references that exist, of ``a`` at them (NaN when none does)."""
    stack = np.array([np.where(r >= 0, a[np.maximum(r, 0)], np.nan) for r in references])
    return median_of_valid(stack)


def median_of_valid(stack: FloatArray) -> FloatArray:
    """Column medians of ``stack`` ignoring NaN (NaN for an all-NaN column), warning-free."""
    ordered = np.sort(stack, axis=0)  # NaN sorts last
    count = np.sum(~np.isnan(stack), axis=0)
    columns = np.arange(stack.shape[1])
    low = np.maximum((count - 1) // 2, 0)
    high = np.where(count > 0, count // 2, 0)
    middle = 0.5 * (ordered[low, columns] + ordered[high, columns])
    return np.where(count > 0, middle, np.nan)


def window_extreme(a: FloatArray, length: int, combine: np.ufunc) -> FloatArray:
    """``combine`` (np.fmax or np.fmin) over ``a[j - length + 1 : j + 1]`` at each ``j``,
    ignoring NaN, in O(n) (van Herk / Gil-Werman: prefix and suffix extremes per block)."""
    n = len(a)
    if n == 0:
        return a.copy()
    length = max(1, min(length, n))
    blocks = np.concatenate([a, np.full((-n) % length, np.nan)]).reshape(-1, length)
    prefix = combine.accumulate(blocks, axis=1).ravel()[:n]
    suffix = combine.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()[:n]
    index = np.arange(n)
    start = index - length + 1
    from_start = combine.accumulate(a)
    inside = combine(suffix[np.maximum(start, 0)], prefix)
    result: FloatArray = np.where(start <= 0, from_start, inside)
    return result


def past_extreme(a: FloatArray, length: int, combine: np.ufunc) -> FloatArray:
    """``combine`` over the ``length`` points *before* each point (NaN for the first)."""
    return lagged(window_extreme(a, length, combine), 1)


def standardize(
    deviation: FloatArray, history: int, floor: FloatArray, gap: int = 1
) -> tuple[FloatArray, FloatArray]:
    """``deviation`` over its scale, and the scale: the largest absolute deviation of the
    ``history`` points ending ``gap`` points before (at least ``floor``); NaN until ten
    deviations have been seen."""
    largest = lagged(window_extreme(np.abs(deviation), history, np.fmax), gap)
    seen = np.cumsum(~np.isnan(deviation))
    scale = np.fmax(largest, floor)
    ready = (lagged(seen.astype(np.float64), gap) >= 10) & (scale > 0)
    scale = np.where(ready, scale, np.nan)
    return np.where(ready, deviation / np.where(ready, scale, 1.0), np.nan), scale


def agree(scaled: list[tuple[FloatArray, FloatArray]], veto: float) -> FloatArray:
    """Per point, the smallest standardized deviation of the baselines when they all point
    the same way (the most lenient explanation), else 0. Only baselines whose scale is within
    ``veto`` times the most accurate one's have a say (one that is routinely far off, like the
    recent level of a series with weekends, would explain everything); baselines without
    history are ignored."""
    z = np.array([pair[0] for pair in scaled])
    scale = np.array([pair[1] for pair in scaled])
    best = np.min(np.where(np.isnan(scale), np.inf, scale), axis=0)
    valid = ~np.isnan(z) & (scale <= veto * best)
    filled = np.where(valid, z, 0.0)
    some = valid.any(axis=0)
    up = np.all((filled > 0) | ~valid, axis=0) & some
    down = np.all((filled < 0) | ~valid, axis=0) & some
    smallest_up = np.min(np.where(valid, z, np.inf), axis=0)
    smallest_down = np.max(np.where(valid, z, -np.inf), axis=0)
    return np.where(up, smallest_up, np.where(down, smallest_down, 0.0))


def range_excess(x: FloatArray, history: int) -> FloatArray:
    """How far each value lies above the highest (positive) or below the lowest (negative)
    of the previous ``history`` values, as a fraction of their range; 0 inside it."""
    high = past_extreme(x, history, np.fmax)
    low = past_extreme(x, history, np.fmin)
    spread = np.fmax(high - low, 1e-9 * (1.0 + np.abs(high) + np.abs(low)))
    excess = np.where(x > high, (x - high) / spread, np.where(x < low, (x - low) / spread, 0.0))
    return np.where(np.isnan(high), 0.0, excess)


def expectation(x: FloatArray, centers: list[FloatArray], fallback: FloatArray) -> FloatArray:
    """The expected value: of the seasonal expectations that exist, the one nearest the value
    (the most lenient), else the median of the recent baseline."""
    if not centers:
        return fallback
    stack = np.array(centers)
    distance = np.where(np.isnan(stack), np.inf, np.abs(stack - x))
    nearest = np.argmin(distance, axis=0)
    chosen = stack[nearest, np.arange(len(x))]
    return np.where(np.isnan(chosen), fallback, chosen)
