"""Precision and recall of the anomaly detector on the Numenta Anomaly Benchmark (NAB).

    .venv/bin/python benchmarks/anomalies.py [--data DIR] [--target 0.9] [--per-file]

The 24 series of ``realTraffic`` and ``realAWSCloudwatch`` with NAB's labeled windows. A flag
inside a window is a hit, each window counts once for recall, a flag outside every window is a
false positive (``thrifty.analytics.anomaly_windows``). No flag falls in NAB's probationary
period (the first 15% of a file, at most 750 points): it is the detector's warm-up.

Reported, pooled over the files (and per file with ``--per-file``):

* the detector with its default thresholds (in-sample: they were chosen on these files);
* the best thresholds in-sample (highest recall at precision ≥ ``--target``);
* cross-validated: thresholds chosen on the other files only (highest recall at training
  precision ≥ ``--target``, ties to the higher precision, then the stricter thresholds), then
  scored on the held-out ones: leave-one-file-out, and 4 folds of files over three shuffles;
* the naive baseline: a point more than 3 scaled MADs from the median of the previous day,
  with the same warm-up and one flag per episode;
* detection time per point (``detect`` on each whole file, and on a month of hourly points).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from thrifty.analytics.anomaly import (
    Thresholds,
    detect,
    detect_series,
    episode_starts,
    seasons_of,
)
from thrifty.analytics.anomaly_score import FloatArray, Layout, deviations, rolling
from thrifty.analytics.anomaly_windows import WindowScore, pool, score_windows
from thrifty.analytics.series import Series, read_series

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/series/nab"
UPWARD = (0.8, 1.0, 1.1, 1.2, 1.3, 1.5, 2.0, 3.0, math.inf)  # spike, shift_up
DOWNWARD = (1.2, 2.0, 3.0, math.inf)  # drop, shift_down
RANGE_GRID = ((0.2, 0.05), (0.15, 0.05), (0.3, 0.05), (0.2, 0.1), (0.15, 0.03))


@dataclass(frozen=True)
class File:
    key: str
    series: Series
    windows: list[tuple[datetime, datetime]]
    warmup: int
    seasons: tuple[int, ...]
    tests: FloatArray  # (3, n): point, shift, range deviations
    refractory: int


def load(folder: Path) -> list[File]:
    labels = json.loads((folder / "labels" / "combined_windows.json").read_text("utf-8"))
    files = []
    for key in sorted(labels):
        series = read_series(folder / "data" / key)
        windows = [(_utc(a), _utc(b)) for a, b in labels[key]]
        seasons = seasons_of(series)
        layout = Layout.for_seasons(seasons)
        seconds = _seconds(series)
        step = series.step.total_seconds() if series.step else None
        found = deviations(np.array(series.values), seconds, seasons, layout, step)
        tests = np.nan_to_num(np.array([found.point, found.shift, found.range]), nan=0.0)
        warmup = min(int(0.15 * len(series)), 750)  # NAB's probationary period
        files.append(File(key, series, windows, warmup, seasons, tests, layout.refractory))
    return files


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _seconds(series: Series) -> FloatArray | None:
    if series.timestamps is None:
        return None
    origin = series.timestamps[0]
    return np.array([(t - origin).total_seconds() for t in series.timestamps])


def flags_of(file: File, limits: Thresholds) -> list[int]:
    point, shift, excess = file.tests
    abnormal = (
        (point >= limits.spike)
        | (point <= -limits.drop)
        | (shift >= limits.shift_up)
        | (shift <= -limits.shift_down)
        | (excess >= limits.new_high)
        | (excess <= -limits.new_low)
    )
    return episode_starts(abnormal, file.refractory, file.warmup)


def score(file: File, flags: list[int]) -> WindowScore:
    times = file.series.timestamps or ()
    return score_windows([times[i] for i in flags], file.windows)


def grid() -> list[Thresholds]:
    out = []
    for spike, up in itertools.product(UPWARD, repeat=2):
        for drop, down in itertools.product(DOWNWARD, repeat=2):
            for high, low in RANGE_GRID:
                out.append(Thresholds(spike, drop, up, down, high, low))
    return out


def table(files: list[File], candidates: list[Thresholds]) -> np.ndarray:
    """(candidates, files, 4): flags, hits, windows, found."""
    rows = []
    for limits in candidates:
        scores = [score(f, flags_of(f, limits)) for f in files]
        rows.append([(s.flags, s.hits, s.windows, s.found) for s in scores])
    return np.array(rows)


def strictness(limits: Thresholds) -> float:
    return sum(math.log(min(v, 10.0)) for v in vars(limits).values())


def choose(
    counts: np.ndarray, train: list[int], candidates: list[Thresholds], target: float
) -> int:
    flags, hits, windows, found = counts[:, train, :].sum(axis=1).T
    precision = np.where(flags > 0, hits / np.maximum(flags, 1), 1.0)
    recall = found / np.maximum(windows, 1)
    allowed = precision >= target
    if not allowed.any():
        allowed = precision >= precision.max()
    strict = np.array([strictness(c) for c in candidates])
    key = np.where(allowed, recall * 1e6 + precision * 1e3 + strict / 1e3, -np.inf)
    return int(np.argmax(key))


def cross_validate(
    counts: np.ndarray, folds: list[list[int]], candidates: list[Thresholds], target: float
) -> tuple[WindowScore, dict[int, WindowScore]]:
    held: dict[int, WindowScore] = {}
    for test in folds:
        train = [i for i in range(counts.shape[1]) if i not in test]
        best = choose(counts, train, candidates, target)
        for i in test:
            held[i] = WindowScore(*(int(v) for v in counts[best, i]))
    return pool(held.values()), held


def baseline_flags(file: File, window: int = 288, k: float = 3.0) -> list[int]:
    """The naive detector: |x - median of the previous ``window`` points| > k scaled MADs."""
    x = np.array(file.series.values)
    median = np.concatenate([[np.nan], rolling(x, window, np.median)[:-1]])
    windows = np.lib.stride_tricks.sliding_window_view(x, window)
    mad = np.full(len(x), np.nan)
    mad[window:] = np.median(np.abs(windows[:-1] - median[window:, None]), axis=1)
    scale = np.maximum(1.4826 * np.nan_to_num(mad, nan=np.inf), 1e-12)
    abnormal = np.abs(x - median) > k * scale
    return episode_starts(np.nan_to_num(abnormal), file.refractory, file.warmup)


def line(name: str, s: WindowScore) -> str:
    return (
        f"{name:<58} precision {s.precision:5.3f}  recall {s.recall:5.3f}  F1 {s.f1:5.3f}"
        f"  (flags {s.flags}, hits {s.hits}, windows {s.found}/{s.windows};"
        f" window precision {s.window_precision:5.3f})"
    )


def timing(files: list[File]) -> tuple[float, float]:
    """Microseconds per point of ``detect`` over the files, and milliseconds for a month of
    hourly points (seasons 24 and 168); medians of five runs."""
    points = sum(len(f.series) for f in files)
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for f in files:
            detect_series(f.series, season=f.seasons, warmup=f.warmup)
        runs.append((time.perf_counter() - started) / points * 1e6)
    rng = np.random.default_rng(0)
    hours = np.arange(720)
    month = list(10 + 5 * np.sin(hours * 2 * np.pi / 24) + rng.normal(0, 1, 720))
    start = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = [start + timedelta(hours=int(h)) for h in hours]
    monthly = []
    for _ in range(5):
        started = time.perf_counter()
        detect(month, stamps, season=(24, 168))
        monthly.append((time.perf_counter() - started) * 1e3)
    return statistics.median(runs), statistics.median(monthly)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA), help="the nab/ folder")
    parser.add_argument("--target", type=float, default=0.9, help="training precision target")
    parser.add_argument("--per-file", action="store_true", help="also print every file")
    args = parser.parse_args()
    files = load(Path(args.data))
    candidates = grid()
    default = Thresholds()
    if default not in candidates:
        candidates.append(default)
    counts = table(files, candidates)
    everything = list(range(len(files)))

    results: dict[str, dict[int, WindowScore]] = {}
    d = candidates.index(default)
    results["detector, default thresholds (in-sample)"] = {
        i: WindowScore(*(int(v) for v in counts[d, i])) for i in everything
    }
    best = choose(counts, everything, candidates, args.target)
    results[f"detector, best in-sample {candidates[best]}"] = {
        i: WindowScore(*(int(v) for v in counts[best, i])) for i in everything
    }
    _, results["detector, leave-one-file-out CV"] = cross_validate(
        counts, [[i] for i in everything], candidates, args.target
    )
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(len(files))
        folds = [[int(i) for i in order[k::4]] for k in range(4)]
        _, results[f"detector, 4-fold CV (shuffle {seed})"] = cross_validate(
            counts, folds, candidates, args.target
        )
    results["baseline: rolling median ± 3 MAD"] = {
        i: score(f, baseline_flags(f)) for i, f in enumerate(files)
    }
    print(f"NAB: {len(files)} files, {sum(len(f.windows) for f in files)} windows")
    for name, per_file in results.items():
        print(line(name, pool(per_file.values())))
    if args.per_file:
        for name, per_file in results.items():
            print(f"\n{name}")
            for i, f in enumerate(files):
                print("  " + line(f.key, per_file[i]))
    per_point, month = timing(files)
    print(f"\ndetect: {per_point:.1f} µs per point over the files; a month of hourly points "
          f"(seasons 24 and 168): {month:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
