"""Fitting the learned router and calibrating its operating points by cross-validation.

**Fit.** Per model, ridge regression of the 0/1 outcome on the prompt's features
(:func:`thrifty.routing.learned.feature_groups`), solved in its dual form
(``(K + ridge·I) a = y − mean``, ``K`` the prompts' Gram matrix) because there are fewer
prompts than features, then turned back into sparse per-bucket weights. Content buckets seen in
fewer than ``MIN_BUCKET_COUNT`` training prompts are dropped: a weight on a word seen once can
only memorise. Per model, cost is a least-squares line in the prompt's characters.

**Calibrate.** Every candidate configuration (its content scale) is fitted ``folds`` times,
each time predicting the held-out fold, so every training prompt gets an out-of-fold
prediction. On those, each cost weight λ of a grid routes every prompt to the model of highest
``p − λ·cost/reference`` (what ``select_model`` then chooses, see
:func:`thrifty.routing.learned.requirement_for`) and is scored on the recorded outcomes. For a
target share of the strongest model's quality, the cheapest λ whose out-of-fold quality share
reaches it is the operating point. The configuration is the one that is cheapest at the first
target. Only the training data is ever read: the data a router is evaluated on is not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from thrifty.routing.dataset import Dataset, outcome_arrays
from thrifty.routing.learned import (
    FLOOR,
    FeatureSpec,
    FloatArray,
    LearnedRouter,
    OperatingPoint,
    feature_groups,
    prompt_text,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MIN_BUCKET_COUNT = 2
RIDGE = 1.0
CONTENT_SCALES = (0.0, 0.03, 0.1)
#: Cost weights tried by calibration (λ, in quality per strongest-model-prompt of cost).
COST_WEIGHTS = (0.0, *np.geomspace(1e-3, 10.0, 120).tolist())
DEFAULT_TARGETS = (0.9, 0.95, 0.97, 0.98, 0.99, 1.0)


@dataclass(frozen=True)
class Features:
    """A dataset's features, with the arrays learning needs (prompt × model, NaN: no answer)."""

    template: list[dict[int, float]]
    content: list[dict[int, float]]
    characters: FloatArray
    quality: FloatArray
    cost: FloatArray

    @classmethod
    def of(cls, dataset: Dataset, dimensions: int) -> Features:
        groups = [feature_groups(e.messages, dimensions) for e in dataset.examples]
        quality, cost = outcome_arrays(dataset)
        return cls(
            [g[0] for g in groups],
            [g[1] for g in groups],
            np.array([len(prompt_text(e.messages)) for e in dataset.examples], dtype=np.float64),
            np.array(quality, dtype=np.float64),
            np.array(cost, dtype=np.float64),
        )


def _matrix(rows: Sequence[dict[int, float]], columns: dict[int, int]) -> FloatArray:
    matrix = np.zeros((len(rows), len(columns)), dtype=np.float64)
    for i, row in enumerate(rows):
        for bucket, value in row.items():
            column = columns.get(bucket)
            if column is not None:
                matrix[i, column] = value
    return matrix


@dataclass(frozen=True)
class Fit:
    """A fitted model in dense form: intercepts, per-column weights of both groups, costs."""

    template_columns: dict[int, int]
    content_columns: dict[int, int]
    intercepts: FloatArray
    template_weights: FloatArray
    content_weights: FloatArray
    cost_intercepts: FloatArray
    cost_slopes: FloatArray

    def predict(self, features: Features, rows: Sequence[int]) -> tuple[FloatArray, FloatArray]:
        """Probabilities and costs (prompt × model) for ``rows`` of ``features``."""
        template = _matrix([features.template[i] for i in rows], self.template_columns)
        content = _matrix([features.content[i] for i in rows], self.content_columns)
        raw = self.intercepts + template @ self.template_weights + content @ self.content_weights
        characters = features.characters[list(rows), None]
        costs = self.cost_intercepts + self.cost_slopes * characters
        floor = 0.05 * np.maximum(self.cost_intercepts + self.cost_slopes * 100.0, 1e-9)
        return np.clip(raw, FLOOR, 1.0), np.maximum(costs, floor)


def fit(features: Features, rows: Sequence[int], spec: FeatureSpec, ridge: float = RIDGE) -> Fit:
    """Fit on ``rows`` of ``features`` (see the module docstring)."""
    rows = list(rows)
    template_columns = {
        b: i for i, b in enumerate(sorted({b for r in rows for b in features.template[r]}))
    }
    seen: dict[int, int] = {}
    if spec.content_scale:
        for r in rows:
            for bucket in features.content[r]:
                seen[bucket] = seen.get(bucket, 0) + 1
    kept = sorted(b for b, n in seen.items() if n >= MIN_BUCKET_COUNT)
    content_columns = {b: i for i, b in enumerate(kept)}
    template = spec.template_scale * _matrix([features.template[r] for r in rows], template_columns)
    content = spec.content_scale * _matrix([features.content[r] for r in rows], content_columns)
    gram = template @ template.T + content @ content.T
    quality = features.quality[rows]
    models = quality.shape[1]
    intercepts = np.zeros(models)
    dual = np.zeros((len(rows), models))
    answered = ~np.isnan(quality)
    for mask in {answered[:, j].tobytes() for j in range(models)}:
        ok = np.frombuffer(mask, dtype=bool)
        same = np.array([j for j in range(models) if answered[:, j].tobytes() == mask])
        targets = quality[np.ix_(ok, same)]
        intercepts[same] = targets.mean(axis=0)
        system = gram[np.ix_(ok, ok)] + ridge * np.eye(int(ok.sum()))
        dual[np.ix_(ok, same)] = np.linalg.solve(system, targets - intercepts[same])
    cost_intercepts, cost_slopes = _cost_lines(features, rows)
    return Fit(
        template_columns,
        content_columns,
        intercepts,
        spec.template_scale * template.T @ dual,
        spec.content_scale * content.T @ dual,
        cost_intercepts,
        cost_slopes,
    )


def _cost_lines(features: Features, rows: list[int]) -> tuple[FloatArray, FloatArray]:
    cost = features.cost[rows]
    characters = features.characters[rows]
    intercepts, slopes = np.zeros(cost.shape[1]), np.zeros(cost.shape[1])
    for j in range(cost.shape[1]):
        ok = ~np.isnan(cost[:, j])
        if ok.sum() < 2 or np.ptp(characters[ok]) == 0:
            intercepts[j] = float(np.nanmean(cost[:, j])) if ok.any() else 0.0
            continue
        design = np.column_stack([np.ones(int(ok.sum())), characters[ok]])
        (intercepts[j], slopes[j]), *_ = np.linalg.lstsq(design, cost[ok, j], rcond=None)
    return intercepts, slopes


def fold_indices(count: int, folds: int, seed: int) -> list[list[int]]:
    """``folds`` disjoint, shuffled index lists covering ``range(count)``."""
    order = np.random.default_rng(seed).permutation(count).tolist()
    return [sorted(order[k::folds]) for k in range(folds)]


def route(
    probabilities: FloatArray, costs: FloatArray, weight: float, available: BoolArray
) -> IntArray:
    """Per prompt, the column of highest ``p − weight·cost`` among available models (ties:
    the cheaper), which is the model ``select_model`` picks at the router's requirement."""
    utility = np.where(available, probabilities - weight * costs, -np.inf)
    best = utility.max(axis=1, keepdims=True)
    tied = np.where(utility >= best - 1e-12, costs, np.inf)
    return np.asarray(tied.argmin(axis=1), dtype=np.int64)


def shares(
    choice: IntArray, features: Features, rows: Sequence[int], strongest: int
) -> tuple[float, float]:
    """Cost and quality of ``choice`` on ``rows``, as shares of the strongest model's."""
    rows = list(rows)
    picked = np.arange(len(rows)), choice
    cost = float(np.nansum(features.cost[rows][picked]))
    quality = float(np.nansum(features.quality[rows][picked]))
    strong_cost = float(np.nansum(features.cost[rows, strongest]))
    strong_quality = float(np.nansum(features.quality[rows, strongest]))
    return cost / strong_cost, (quality / strong_quality if strong_quality else 1.0)


@dataclass(frozen=True)
class Calibration:
    spec: FeatureSpec
    operating_points: tuple[OperatingPoint, ...]
    curves: dict[float, list[tuple[float, float, float]]]  # content scale → (λ, cost, quality)


def out_of_fold(
    features: Features, rows: list[int], spec: FeatureSpec, folds: int, seed: int
) -> tuple[FloatArray, FloatArray]:
    probabilities = np.zeros((len(rows), features.quality.shape[1]))
    costs = np.zeros_like(probabilities)
    for held in fold_indices(len(rows), folds, seed):
        held_set = set(held)
        train = [rows[i] for i in range(len(rows)) if i not in held_set]
        probabilities[held], costs[held] = fit(features, train, spec).predict(
            features, [rows[i] for i in held]
        )
    return probabilities, costs


def calibrate(
    features: Features,
    rows: list[int],
    strongest: int,
    targets: Sequence[float],
    *,
    dimensions: int,
    folds: int,
    seed: int,
    content_scales: Sequence[float] = CONTENT_SCALES,
) -> Calibration:
    """Choose the configuration and the operating points by cross-validation on ``rows``."""
    available = ~np.isnan(features.quality[rows])
    best: Calibration | None = None
    best_key = (math.inf, math.inf)
    curves: dict[float, list[tuple[float, float, float]]] = {}
    for scale in content_scales:
        spec = FeatureSpec(dimensions, 1.0, scale)
        probabilities, costs = out_of_fold(features, rows, spec, folds, seed)
        reference = float(np.nanmean(features.cost[rows, strongest]))
        curve = []
        for weight in COST_WEIGHTS:
            choice = route(probabilities, costs / reference, weight, available)
            curve.append((weight, *shares(choice, features, rows, strongest)))
        curves[scale] = curve
        points = tuple(_operating_point(curve, target) for target in targets)
        key = (
            points[0].validated_cost_share or math.inf,
            -(points[0].validated_quality_share or 0.0),
        )
        if best is None or key < best_key:
            best, best_key = Calibration(spec, points, curves), key
    assert best is not None
    return best


def _operating_point(curve: list[tuple[float, float, float]], target: float) -> OperatingPoint:
    meeting = [
        (cost, -weight, quality) for weight, cost, quality in curve if quality >= target - 1e-12
    ]
    if not meeting:  # no λ keeps the target: the most quality-minded one
        weight, cost, quality = curve[0]
        return OperatingPoint(target, weight, cost, quality)
    cost, negative_weight, quality = min(meeting)
    return OperatingPoint(target, -negative_weight, cost, quality)


def train_router(
    dataset: Dataset,
    *,
    targets: Sequence[float] = DEFAULT_TARGETS,
    folds: int = 5,
    seed: int = 0,
    dimensions: int = 1 << 15,
    content_scales: Sequence[float] = CONTENT_SCALES,
) -> LearnedRouter:
    """Fit a router on ``dataset`` and calibrate an operating point per target (the first
    target chooses the configuration)."""
    features = Features.of(dataset, dimensions)
    rows = list(range(len(dataset)))
    strongest_model = dataset.strongest_model()
    strongest = dataset.models.index(strongest_model)
    calibration = calibrate(
        features, rows, strongest, targets, dimensions=dimensions, folds=folds, seed=seed,
        content_scales=content_scales,
    )  # fmt: skip
    fitted = fit(features, rows, calibration.spec)
    return to_router(fitted, dataset, calibration, features, strongest_model, folds, seed)


def to_router(
    fitted: Fit,
    dataset: Dataset,
    calibration: Calibration,
    features: Features,
    strongest_model: str,
    folds: int,
    seed: int,
) -> LearnedRouter:
    """The serving form of a fit: sparse weights per bucket, the cost lines, the points."""
    weights: dict[int, FloatArray] = {}
    spec = calibration.spec
    # ``Fit`` weighs unscaled features (its weights carry the group's scale twice: once from
    # the scaled training matrix, once explicitly); ``extract_features`` serves them scaled,
    # so each group's weights are divided by its scale once here.
    for columns, matrix, scale in (
        (fitted.template_columns, fitted.template_weights, spec.template_scale),
        (fitted.content_columns, fitted.content_weights, spec.content_scale),
    ):
        if not scale:
            continue
        for bucket, column in columns.items():
            row = matrix[column] / scale
            if np.any(row):
                weights[bucket] = weights.get(bucket, 0.0) + row
    buckets = tuple(sorted(weights))
    strongest = dataset.models.index(strongest_model)
    return LearnedRouter(
        models=dataset.models,
        strongest_model=strongest_model,
        spec=spec,
        intercepts=fitted.intercepts,
        buckets=buckets,
        weights=np.array([weights[b] for b in buckets]).reshape(len(buckets), len(dataset.models)),
        cost_intercepts=fitted.cost_intercepts,
        cost_slopes=fitted.cost_slopes,
        reference_cost=float(np.nanmean(features.cost[:, strongest])),
        operating_points=calibration.operating_points,
        training={"prompts": len(dataset), "folds": folds, "seed": seed, "source": dataset.source},
    )
