"""Cross-validated figures of the learned router, the baselines, and the prediction time.

    .venv/bin/python benchmarks/router.py [--data FILE.jsonl] [--folds 5] [--seed 0]

Nested cross-validation: the dataset is split into ``--folds`` outer folds; for each, a router
is trained *and calibrated* (inner cross-validation inside ``train_router``) on the other
folds only, then routes the held-out fold from its messages alone through ``select_model``.
Every figure is computed on the concatenated held-out choices. The baselines are fitted on the
same training folds: per-model mean quality (no router), and the issue's trivial policy (per
task, the cheapest model within 95% of the best, tasks known).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from thrifty.routing.dataset import Dataset, read_dataset
from thrifty.routing.replay import (
    BASELINE_CURVE,
    ROUTER_CURVE,
    MeanQualityPolicy,
    RouterPolicy,
    area_under_curve,
    choose,
    oracle_choices,
    score,
    strongest_choices,
)
from thrifty.routing.strategy import Strategy
from thrifty.routing.training import DEFAULT_TARGETS, fold_indices, train_router

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/routerbench/train.jsonl"
COST_AWARE = Strategy.COST_AWARE


def _fill(slots: list[str | None], indices: list[int], values: list[str | None]) -> None:
    for index, value in zip(indices, values, strict=True):
        slots[index] = value


def cross_validate(
    dataset: Dataset, folds: int, seed: int, min_quality: float
) -> dict[str, object]:
    count = len(dataset)
    ranking = dataset.ranking()
    strongest = strongest_choices(dataset, ranking)
    router_picks: list[str | None] = [None] * count
    mean_picks: list[str | None] = [None] * count
    trivial_picks: list[str | None] = [None] * count
    points_picks: list[str | None] = [None] * count
    router_curve = {s: [None] * count for s in ROUTER_CURVE}
    trivial_curve = {s: [None] * count for s in BASELINE_CURVE}
    per_fold = []
    targets = tuple(dict.fromkeys([min_quality, *DEFAULT_TARGETS]))
    for held in fold_indices(count, folds, seed):
        held_set = set(held)
        train = dataset.subset([i for i in range(count) if i not in held_set])
        test = dataset.subset(held)
        router = train_router(train, targets=targets, folds=folds, seed=seed)
        policy = RouterPolicy(router)
        picks = choose(test, policy, COST_AWARE, policy.setting_for(min_quality))
        _fill(router_picks, held, picks)
        fold = score(test, picks, strongest_choices(test, router.ranking()))
        per_fold.append(
            {
                "costShare": round(fold.cost_share, 4),
                "qualityShare": round(fold.quality_share, 4),
                "contentScale": router.spec.content_scale,
            }
        )
        means = MeanQualityPolicy.of(train, by_task=False, name="mean quality")
        _fill(mean_picks, held, choose(test, means, COST_AWARE, min_quality))
        trivial = MeanQualityPolicy.of(train, by_task=True, name="per task")
        _fill(trivial_picks, held, choose(test, trivial, COST_AWARE, 0.95))
        points = MeanQualityPolicy.of(train, by_task=True, name="per task", absolute=True)
        _fill(points_picks, held, choose(test, points, COST_AWARE, 0.95))
        for setting, slots in router_curve.items():
            _fill(slots, held, choose(test, policy, COST_AWARE, setting))
        for setting, slots in trivial_curve.items():
            _fill(slots, held, choose(test, trivial, COST_AWARE, setting))

    def curve(choices: dict[float, list[str | None]]) -> tuple[list[dict[str, object]], float]:
        points = [(s, score(dataset, c, strongest)) for s, c in choices.items()]
        area = area_under_curve([(p.cost_share, p.quality_share) for _, p in points])
        return [{"setting": s, **p.json()} for s, p in points], round(area, 4)

    router_points, router_area = curve(router_curve)
    trivial_points, trivial_area = curve(trivial_curve)
    return {
        "prompts": count, "folds": folds, "seed": seed, "minQuality": min_quality,
        "strongestModel": ranking[0],
        "strongest": score(dataset, strongest, strongest).json(),
        "oracle": score(dataset, oracle_choices(dataset), strongest).json(),
        "router": score(dataset, router_picks, strongest).json(),
        "routerPerFold": per_fold,
        "meanQualityBaseline": score(dataset, mean_picks, strongest).json(),
        "perTaskBaseline95": score(dataset, trivial_picks, strongest).json(),
        "perTaskBaseline5Points": score(dataset, points_picks, strongest).json(),
        "routerCurve": router_points, "routerArea": router_area,
        "perTaskCurve": trivial_points, "perTaskArea": trivial_area,
    }  # fmt: skip


def prediction_time(dataset: Dataset, repeats: int = 2000) -> dict[str, float]:
    """Microseconds per prompt for probabilities and costs of every model (after a warm-up)."""
    router = train_router(dataset.subset(range(min(len(dataset), 600))), targets=(0.99,), folds=3)
    examples = [dataset.examples[i % len(dataset)] for i in range(repeats)]
    timings = []
    for example in examples:
        start = time.perf_counter()
        router.predict(example.messages)
        router.predict_costs(example.messages)
        timings.append((time.perf_counter() - start) * 1e6)
    timings.sort()
    return {
        "models": len(router.models),
        "p50Microseconds": round(statistics.median(timings), 1),
        "p99Microseconds": round(timings[int(0.99 * len(timings))], 1),
        "meanMicroseconds": round(statistics.fmean(timings), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-quality", type=float, default=0.99)
    args = parser.parse_args()
    dataset = read_dataset(args.data)
    report = cross_validate(dataset, args.folds, args.seed, args.min_quality)
    report["predictionTime"] = prediction_time(dataset)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
