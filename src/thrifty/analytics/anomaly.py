"""Anomalies in a spend or count series: causal, aware of daily and weekly patterns, one alert
per episode.

``detect(values, timestamps, season=24)`` returns the flagged points of one series (say the
hourly spend of a team). Every point is judged on the points before it only, as the gateway
judges a live series: changing later points never changes an earlier flag. Three checks
(``anomaly_score`` has the arithmetic):

* ``point`` — the value lies outside what both the recent level and the same hour of previous
  days (or weeks) allow, by more than the largest such deviation of the last two weeks;
* ``shift`` — the median of the last few hours moved away from what came before, more than any
  such move of the last two weeks (a sustained change rather than one extreme point);
* ``range`` — a new high or new low: beyond every value of the last two weeks, by a fraction of
  their range.

Each check's deviation is divided by its threshold (``Thresholds``), and the largest quotient is
the point's ``score``: a point is abnormal from score ``threshold`` (1.0) on. Consecutive
abnormal points form one episode, which ends after ``refractory`` normal points (half a season);
only the first point of an episode is flagged. No point of the ``warmup`` is flagged (by default
three of the shortest season and two of the longest: the history the baselines need).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from thrifty.analytics.anomaly_score import FloatArray, Layout, deviations
from thrifty.analytics.series import Series, infer_season
from thrifty.errors import InvalidInput

SCORE_CAP = 1e9  # scores past a constant history are huge: keep them finite (JSON)
_DAY = timedelta(days=1)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Direction(StrEnum):
    SPIKE = "spike"
    DROP = "drop"


class Check(StrEnum):
    POINT = "point"
    SHIFT = "shift"
    RANGE = "range"


_CHECKS = (Check.POINT, Check.SHIFT, Check.RANGE)
SEVERITY_FROM = ((6.0, Severity.CRITICAL), (3.0, Severity.HIGH), (1.5, Severity.MEDIUM))
SENSITIVITY = {"low": 1.5, "medium": 1.0, "high": 0.75}  # the score that flags a point


@dataclass(frozen=True)
class Thresholds:
    """Where each check starts to flag. ``spike``/``drop`` (point check) and ``shift_up``/
    ``shift_down`` are in units of the largest such deviation of the last ``history`` points
    (1.2: 20% beyond anything seen there); ``new_high``/``new_low`` are fractions of the range
    of those points. ``math.inf`` turns a check's direction off: sustained drops are off by
    default, as on the Numenta Anomaly Benchmark they only added false alerts. The values are
    the ones chosen on that benchmark, where cross-validation measured how well the choice
    carries over to other series (docs/anomalies.md)."""

    spike: float = 1.2
    drop: float = 1.2
    shift_up: float = 1.2
    shift_down: float = math.inf
    new_high: float = 0.2
    new_low: float = 0.05

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise InvalidInput(f"threshold {name} must be positive", field=name)


@dataclass(frozen=True)
class Anomaly:
    """A flagged point: the first of an episode."""

    index: int
    timestamp: datetime | None
    value: float
    expected: float | None
    score: float
    severity: Severity
    direction: Direction
    check: Check

    def json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "timestamp": None if self.timestamp is None else self.timestamp.isoformat(),
            "value": self.value,
            "expected": self.expected,
            "score": round(self.score, 3),
            "severity": str(self.severity),
            "direction": str(self.direction),
            "check": str(self.check),
        }


@dataclass(frozen=True)
class Scores:
    """Per point: the score (0 when no check deviates), the check that gave it, its sign
    (+1 above, -1 below expectations) and the expected value (NaN without enough history)."""

    score: FloatArray
    check: tuple[Check, ...]
    sign: tuple[int, ...]
    expected: FloatArray


def severity_of(score: float) -> Severity:
    """``low`` below 1.5, ``medium`` below 3, ``high`` below 6, else ``critical``."""
    for bound, severity in SEVERITY_FROM:
        if score >= bound:
            return severity
    return Severity.LOW


def normalize_seasons(season: int | Sequence[int] | None) -> tuple[int, ...]:
    """The distinct seasonal periods of at least two steps, shortest first."""
    if season is None:
        return ()
    seasons = (season,) if isinstance(season, int) else tuple(season)
    for s in seasons:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise InvalidInput(f"season {s!r}: a whole number of steps, 1 or more", field="season")
    return tuple(sorted({s for s in seasons if s >= 2}))


def seasons_of(series: Series) -> tuple[int, ...]:
    """The seasons of a series from its step (``series.infer_season``): a week for daily data;
    a day for sub-daily steps, plus a week once the series holds four weeks (the weekly
    baseline needs a few previous weeks to be worth more than one noisy reference)."""
    season = infer_season(series)
    if season is None:
        return ()
    step = series.step
    if step is not None and step < _DAY * 0.99 and len(series) >= 28 * season:
        return (season, 7 * season)
    return (season,)


def default_warmup(seasons: Sequence[int], layout: Layout) -> int:
    """Three of the shortest season and two of the longest (the seasonal references need
    them), at least the shift check's baseline: hourly data with seasons 24 and 168 waits two
    weeks, daily data with season 7 three weeks. Earlier, with little history, every new
    value is a new high or low."""
    shortest = min(seasons, default=0)
    return max(layout.baseline, 3 * shortest, 2 * max(seasons, default=0))


def score_points(
    values: Sequence[float],
    timestamps: Sequence[datetime] | None = None,
    *,
    season: int | Sequence[int] | None = None,
    thresholds: Thresholds | None = None,
    layout: Layout | None = None,
    step: timedelta | None = None,
) -> Scores:
    """Every point's score; ``detect`` flags the starts of the runs above ``threshold``."""
    x = _values(values)
    seconds = None if timestamps is None else _seconds(timestamps, len(x))
    seasons = normalize_seasons(season)
    layout = layout or Layout.for_seasons(seasons)
    limits = thresholds or Thresholds()
    if step is not None and step <= timedelta(0):
        raise InvalidInput("step must be positive", field="step")
    seconds_per_step = None if step is None or seconds is None else step.total_seconds()
    found = deviations(x, seconds, seasons, layout, seconds_per_step)
    checks = np.array([found.point, found.shift, found.range])
    up = np.array([[limits.spike], [limits.shift_up], [limits.new_high]])
    down = np.array([[limits.drop], [limits.shift_down], [limits.new_low]])
    clean = np.nan_to_num(checks, nan=0.0)
    quotient = np.where(clean >= 0, clean / up, -clean / down)
    winner = np.argmax(quotient, axis=0)
    columns = np.arange(len(x))
    score = np.minimum(quotient[winner, columns], SCORE_CAP)
    sign = np.where(clean[winner, columns] < 0, -1, 1)
    return Scores(
        score=score,
        check=tuple(_CHECKS[i] for i in winner.tolist()),
        sign=tuple(int(s) for s in sign.tolist()),
        expected=found.expected,
    )


def episode_starts(
    abnormal: Sequence[bool] | npt.NDArray[np.bool_], refractory: int, warmup: int = 0
) -> list[int]:
    """The first abnormal point of each episode: an episode runs until ``refractory``
    consecutive normal points; points before ``warmup`` are ignored."""
    flags = np.asarray(abnormal, dtype=bool).copy()
    flags[: max(0, warmup)] = False
    where = np.flatnonzero(flags)
    if len(where) == 0:
        return []
    new = np.concatenate([[True], np.diff(where) > refractory])
    return [int(i) for i in where[new]]


def detect(
    values: Sequence[float],
    timestamps: Sequence[datetime] | None = None,
    *,
    season: int | Sequence[int] | None = None,
    thresholds: Thresholds | None = None,
    threshold: float = 1.0,
    warmup: int | None = None,
    layout: Layout | None = None,
    step: timedelta | None = None,
) -> list[Anomaly]:
    """The flagged points of a series, oldest first (see the module docstring).

    ``season``: the period(s) in steps, e.g. ``24`` or ``(24, 168)`` for hourly data, ``7``
    for daily. ``timestamps`` (aware) place irregular points on the seasonal phase; a step is
    then ``step`` (the sampling interval), by default the median gap so far at each point.
    ``threshold``: the score that flags a point (``SENSITIVITY`` has presets)."""
    if not threshold > 0 or not math.isfinite(threshold):
        raise InvalidInput("threshold must be a positive number", field="threshold")
    seasons = normalize_seasons(season)
    layout = layout or Layout.for_seasons(seasons)
    scores = score_points(
        values, timestamps, season=seasons, thresholds=thresholds, layout=layout, step=step
    )
    start = default_warmup(seasons, layout) if warmup is None else warmup
    if start < 0:
        raise InvalidInput("warmup must be 0 or more", field="warmup")
    flagged = episode_starts(scores.score >= threshold, layout.refractory, start)
    return [_anomaly(i, values, timestamps, scores) for i in flagged]


def detect_series(
    series: Series,
    *,
    season: int | Sequence[int] | None = None,
    thresholds: Thresholds | None = None,
    threshold: float = 1.0,
    warmup: int | None = None,
) -> list[Anomaly]:
    """``detect`` on a ``Series``; without ``season``, the seasons its step implies. The
    series' ``step`` (its sampling interval: the median gap of the whole series) counts the
    seasons, as a live gateway knows its bucket size."""
    return detect(
        series.values,
        series.timestamps,
        season=seasons_of(series) if season is None else season,
        thresholds=thresholds,
        threshold=threshold,
        warmup=warmup,
        step=series.step,
    )


def _anomaly(
    i: int, values: Sequence[float], timestamps: Sequence[datetime] | None, scores: Scores
) -> Anomaly:
    score = float(scores.score[i])
    expected = float(scores.expected[i])
    return Anomaly(
        index=i,
        timestamp=None if timestamps is None else timestamps[i],
        value=float(values[i]),
        expected=None if math.isnan(expected) else expected,
        score=score,
        severity=severity_of(score),
        direction=Direction.SPIKE if scores.sign[i] > 0 else Direction.DROP,
        check=scores.check[i],
    )


def _values(values: Sequence[float]) -> FloatArray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise InvalidInput("values must be a flat sequence of numbers", field="values")
    if not np.all(np.isfinite(x)):
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise InvalidInput(f"values[{bad}] is not a finite number", field="values")
    return x


def _seconds(timestamps: Sequence[datetime], count: int) -> FloatArray:
    if len(timestamps) != count:
        raise InvalidInput("timestamps and values differ in length", field="timestamps")
    if any(t.tzinfo is None or t.utcoffset() is None for t in timestamps):
        raise InvalidInput("timestamps must be timezone-aware", field="timestamps")
    if count == 0:
        return np.zeros(0)
    origin = timestamps[0]
    seconds = np.array([(t - origin).total_seconds() for t in timestamps])
    if np.any(np.diff(seconds) < 0):
        raise InvalidInput("timestamps must be in time order", field="timestamps")
    return seconds
