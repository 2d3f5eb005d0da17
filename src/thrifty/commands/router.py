"""``thrifty router train`` and ``thrifty replay``: fit the learned router, replay datasets.

``router train --data train.jsonl --min-quality 0.99 --out router.json`` fits the router and
calibrates its operating points by cross-validation on that file alone. ``replay --data
other.jsonl [--router router.json] --choices choices.jsonl`` routes every prompt of the other file
through ``select_model`` (the router sees messages only) and scores the choices afterwards.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thrifty.errors import InvalidInput
from thrifty.routing.strategy import Strategy, parse_quality_requirement

ALL_STRATEGIES = ",".join(s.value for s in Strategy)


def _qualities(text: str, field: str) -> list[float]:
    values = [parse_quality_requirement(v, field=field) for v in text.split(",") if v.strip()]
    if not values:
        raise InvalidInput(f"{field}: give at least one value", field=field)
    return values


def _strategies(text: str) -> list[Strategy]:
    try:
        return [Strategy(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInput(
            f"--strategy: each must be one of {ALL_STRATEGIES}", field="--strategy"
        ) from None


def run_train(args: argparse.Namespace) -> int:
    from thrifty.routing.dataset import read_dataset
    from thrifty.routing.training import CONTENT_SCALES, DEFAULT_TARGETS, train_router

    if args.folds < 2:
        raise InvalidInput("--folds must be at least 2", field="--folds")
    requested = _qualities(args.min_quality, "--min-quality")
    targets = list(dict.fromkeys([*requested, *DEFAULT_TARGETS]))
    scales = CONTENT_SCALES
    if args.content_scales:
        try:
            scales = tuple(float(v) for v in args.content_scales.split(",") if v.strip())
        except ValueError:
            raise InvalidInput(
                "--content-scales takes comma-separated numbers, e.g. 0,0.1,1",
                field="--content-scales",
            ) from None
        if not scales or any(not 0 <= v <= 10 for v in scales):
            raise InvalidInput(
                "--content-scales must be numbers from 0 to 10", field="--content-scales"
            )
    dataset = read_dataset(args.data)
    router = train_router(
        dataset, targets=targets, folds=args.folds, seed=args.seed, content_scales=scales
    )
    Path(args.out).write_text(json.dumps(router.json(), separators=(",", ":")) + "\n", "utf-8")
    print(
        f"router for {len(router.models)} models written to {args.out} (strongest: "
        f"{router.strongest_model}; content scale {router.spec.content_scale:g})"
    )
    for point in router.operating_points:
        print(f"  min quality {point.min_quality:g}: cost weight {point.cost_weight:.4g}, "
              f"cross-validated cost share {point.validated_cost_share:.3f}, "
              f"quality share {point.validated_quality_share:.4f}")  # fmt: skip
    return 0


def _write_choices(path: str, ids: list[str], choices: list[str | None]) -> None:
    lines = [json.dumps({"id": i, "model": m}) for i, m in zip(ids, choices, strict=True)]
    Path(path).write_text("\n".join(lines) + "\n", "utf-8")


def _table(report: dict[str, Any]) -> str:
    rows = [
        f"{report['prompts']} prompts, policy: {report['policy']}, "
        f"strongest: {report['strongestModel']}"
    ]

    def line(name: str, s: dict[str, Any]) -> str:
        return (f"  {name:<40} cost {s['totalCost'][:10]:>10}  share {s['costShare']:.3f}  "
                f"quality {s['meanQuality']:.4f}  kept {s['qualityShare']:.4f}")  # fmt: skip

    rows.append(line("strongest model", report["strongest"]))
    rows.append(line("oracle (per prompt)", report["oracle"]))
    for result in report["results"]:
        rows.append(line(f"{result['strategy']} @ {result['minQuality']:g}", result))
    for name, base in report.get("baselines", {}).items():
        rows.append(line(name, base))
    if report["curve"]:
        rows.append(
            f"  curve ({len(report['curve'])} points), area {report['areaUnderCurve']:.4f}:"
        )
        rows.extend(f"    setting {p['setting']:<8g} cost share {p['costShare']:.3f}  "
                    f"quality kept {p['qualityShare']:.4f}" for p in report["curve"])  # fmt: skip
    return "\n".join(rows)


def run_replay(args: argparse.Namespace) -> int:
    from thrifty.routing.dataset import read_dataset
    from thrifty.routing.learned import LearnedRouter
    from thrifty.routing.replay import (
        BASELINE_CURVE,
        ROUTER_CURVE,
        MeanQualityPolicy,
        Policy,
        RouterPolicy,
        choose,
        replay,
        score,
        strongest_choices,
    )

    strategies = _strategies(args.strategy)
    min_qualities = _qualities(args.min_quality, "--min-quality")
    dataset = read_dataset(args.data)
    policy: Policy
    settings: Sequence[float]
    if args.router:
        router = LearnedRouter.load(args.router)
        for quality in min_qualities:
            router.operating_point(quality)
        policy, ranking, settings = RouterPolicy(router), router.ranking(), ROUTER_CURVE
    else:
        name = "mean quality per model (knows this file's outcomes)"
        policy = MeanQualityPolicy.of(dataset, by_task=False, name=name)
        ranking, settings = dataset.ranking(), BASELINE_CURVE
    if ranking[0] not in dataset.models:
        raise InvalidInput(
            f"{args.data}: no outcomes of the strongest model {ranking[0]}", field="data"
        )
    report = replay(
        dataset, policy, ranking=ranking, strategies=strategies, min_qualities=min_qualities,
        curve_settings=settings if args.curve else (),
    )  # fmt: skip
    if all(e.task for e in dataset.examples):
        reference = strongest_choices(dataset, ranking)
        report["baselines"] = {}
        for absolute, label in ((False, "95% of the best"), (True, "5 points of the best")):
            trivial = MeanQualityPolicy.of(dataset, by_task=True, name="", absolute=absolute)
            picks = choose(dataset, trivial, Strategy.COST_AWARE, 0.95)
            name = f"per task, cheapest within {label} (knows tasks and outcomes)"
            report["baselines"][name] = score(dataset, picks, reference).json()
    if args.choices:
        settings_choice = policy.setting_for(min_qualities[0])
        picks = choose(dataset, policy, strategies[0], settings_choice)
        _write_choices(args.choices, [e.id for e in dataset.examples], picks)
    text = json.dumps(report, indent=2) if args.format == "json" else _table(report)
    sys.stdout.write(text + "\n")
    return 0


def add_commands(commands: Any) -> None:
    """Register ``router train`` and ``replay`` on the CLI's subparsers."""
    router = commands.add_parser("router", help="train the learned router")
    actions = router.add_subparsers(dest="router_command", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="fit and calibrate a router on a JSONL dataset")
    train.add_argument("--data", required=True, help="JSONL dataset (messages and outcomes)")
    train.add_argument("--out", required=True, help="router file to write (JSON)")
    train.add_argument(
        "--min-quality", default="0.99", help="share(s) of the strongest's quality to keep"
    )
    train.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    train.add_argument("--seed", type=int, default=0, help="seed of the fold split (default 0)")
    train.add_argument(
        "--content-scales",
        help="weights of the prompt's words against its template to choose among by "
        "cross-validation (default 0,0.03,0.1; raise them when the words decide)",
    )
    train.set_defaults(run=run_train)

    replay = commands.add_parser("replay", help="replay a dataset through model selection")
    replay.add_argument("--data", required=True, help="JSONL dataset to route and score")
    replay.add_argument("--router", help="router file (default: per-model mean quality baseline)")
    replay.add_argument(
        "--strategy", default="cost-aware", help=f"comma-separated: {ALL_STRATEGIES}"
    )
    replay.add_argument("--min-quality", default="0.99", help="share(s) of the strongest's quality")
    replay.add_argument("--choices", help="write one {id, model} line per prompt to this file")
    replay.add_argument("--no-curve", dest="curve", action="store_false", help="skip the curve")
    replay.add_argument("--format", choices=["table", "json"], default="table")
    replay.set_defaults(run=run_replay)
