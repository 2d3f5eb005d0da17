"""Scoring flags against labeled anomaly windows, the Numenta Anomaly Benchmark's way.

A flag inside a window (ends included) is a hit; a flag outside every window is a false
positive. Recall counts windows, each once however many flags it holds: windows with at least
one hit over all windows. ``precision`` is hits over flags, as the issue states it;
``window_precision`` is the stricter reading, found windows over found windows plus false
positives (a window's extra flags do not help it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WindowScore:
    flags: int = 0
    hits: int = 0
    windows: int = 0
    found: int = 0

    @property
    def false_positives(self) -> int:
        return self.flags - self.hits

    @property
    def precision(self) -> float:
        """Hits over flags (1.0 without flags: nothing was claimed)."""
        return self.hits / self.flags if self.flags else 1.0

    @property
    def window_precision(self) -> float:
        """Found windows over found windows plus false positives."""
        claimed = self.found + self.false_positives
        return self.found / claimed if claimed else 1.0

    @property
    def recall(self) -> float:
        """Found windows over windows (1.0 without windows)."""
        return self.found / self.windows if self.windows else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __add__(self, other: WindowScore) -> WindowScore:
        return WindowScore(
            self.flags + other.flags,
            self.hits + other.hits,
            self.windows + other.windows,
            self.found + other.found,
        )


def score_windows(
    flags: Iterable[datetime], windows: Sequence[tuple[datetime, datetime]]
) -> WindowScore:
    """The score of ``flags`` (times) against ``windows`` (start, end), ends included."""
    hits = 0
    count = 0
    found: set[int] = set()
    for moment in flags:
        count += 1
        inside = [k for k, (start, end) in enumerate(windows) if start <= moment <= end]
        if inside:
            hits += 1
            found.update(inside)
    return WindowScore(flags=count, hits=hits, windows=len(windows), found=len(found))


def pool(scores: Iterable[WindowScore]) -> WindowScore:
    """The sum of per-series scores: pooled precision and recall."""
    total = WindowScore()
    for score in scores:
        total = total + score
    return total
