"""The learned router: it learns a known rule, round-trips through JSON, and its operating
point makes ``select_model`` pick exactly the router's choice."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.errors import ConfigError
from thrifty.routing.dataset import Dataset, parse_dataset, read_dataset
from thrifty.routing.learned import LearnedRouter, extract_features, requirement_for
from thrifty.routing.selection import Candidate, select_model
from thrifty.routing.training import Features, fit, route, train_router

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ROUTERBENCH = SHARED / "data" / "routerbench" / "train.jsonl"
WORDS = ["apple", "river", "stone", "cloud", "garden", "window", "candle", "forest", "music"]


def synthetic(count: int = 240, seed: int = 1) -> Dataset:
    """``cheap`` is right exactly when the prompt says "easy"; ``strong`` is always right and
    costs ten times as much."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(count):
        easy = i % 2 == 0
        words = list(rng.choice(WORDS, size=6)) + (["easy"] if easy else ["tricky"])
        rng.shuffle(words)
        outcomes = {
            "cheap": {"quality": 1.0 if easy else 0.0, "cost": 0.001},
            "strong": {"quality": 1.0, "cost": 0.010},
        }
        message = {"role": "user", "content": " ".join(words)}
        lines.append(json.dumps({"id": f"p{i}", "messages": [message], "outcomes": outcomes}))
    return parse_dataset(lines, "synthetic")


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def synthetic_router() -> LearnedRouter:
    return train_router(synthetic(), targets=(0.99, 0.9), folds=3, content_scales=(0.0, 1.0))


def test_the_router_learns_which_prompts_the_cheap_model_answers(
    synthetic_router: LearnedRouter,
) -> None:
    assert synthetic_router.spec.content_scale == 1.0  # the template alone cannot tell
    easy = synthetic_router.predict(user("garden easy window stone"))
    tricky = synthetic_router.predict(user("garden tricky window stone"))
    assert easy["cheap"] > 0.8 > 0.2 > tricky["cheap"]
    assert easy["strong"] > 0.9 and tricky["strong"] > 0.9
    point = synthetic_router.operating_point(0.99)
    assert point.validated_quality_share is not None and point.validated_quality_share >= 0.99
    assert point.validated_cost_share is not None and point.validated_cost_share < 0.6
    for text, expected in (("music easy forest", "cheap"), ("music tricky forest", "strong")):
        probabilities = synthetic_router.predict(user(text))
        costs = synthetic_router.predict_costs(user(text))
        share = synthetic_router.quality_requirement(probabilities, costs, min_quality=0.99)
        candidates = [Candidate(m, costs[m], costs[m], probabilities[m]) for m in probabilities]
        assert select_model(candidates, quality_requirement=share).model == expected


def test_predicted_cost_follows_the_recorded_cost(synthetic_router: LearnedRouter) -> None:
    costs = synthetic_router.predict_costs(user("apple easy"))
    assert all(isinstance(c, Decimal) for c in costs.values())
    assert costs["strong"] == pytest.approx(Decimal("0.010"), rel=Decimal("0.05"))
    assert costs["cheap"] == pytest.approx(Decimal("0.001"), rel=Decimal("0.05"))


def test_json_round_trip_predicts_the_same(synthetic_router: LearnedRouter, tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_text(json.dumps(synthetic_router.json()), "utf-8")
    loaded = LearnedRouter.load(path)
    for text in ("apple easy", "river tricky cloud", "nothing known here"):
        again, before = loaded.predict(user(text)), synthetic_router.predict(user(text))
        assert again == pytest.approx(before, abs=1e-5)
    assert loaded.operating_points == synthetic_router.operating_points
    assert "pickle" not in path.read_text("utf-8")


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not valid JSON"), ("[]", "JSON object"), ('{"format": "x"}', "version")],
)
def test_bad_router_files_are_config_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "router.json"
    path.write_text(content, "utf-8")
    with pytest.raises(ConfigError, match=message):
        LearnedRouter.load(path)


def test_unknown_operating_point_names_the_known_ones(synthetic_router: LearnedRouter) -> None:
    with pytest.raises(ConfigError, match=r"0\.99, 0\.9.*--min-quality 0\.5"):
        synthetic_router.operating_point(0.5)


def test_features_ignore_everything_but_the_messages() -> None:
    spec = train_router(synthetic(60), targets=(0.99,), folds=2).spec
    parts = [{"role": "user", "content": [{"type": "text", "text": "apple easy"}]}]
    assert extract_features(parts, spec) == extract_features(user("apple easy"), spec)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.01, 1.0), st.integers(1, 10_000)), min_size=1, max_size=11),
    st.floats(0.0, 50.0),
)
def test_the_requirement_makes_select_model_pick_the_best_utility(
    models: list[tuple[float, int]], weight: float
) -> None:
    probabilities = {f"m{i}": p for i, (p, _) in enumerate(models)}
    costs = {f"m{i}": Decimal(c) / 10_000 for i, (_, c) in enumerate(models)}
    share = requirement_for(probabilities, costs, weight)
    chosen = select_model(
        [Candidate(m, costs[m], costs[m], probabilities[m]) for m in probabilities],
        quality_requirement=share,
    ).model
    assert chosen is not None
    utility = {m: probabilities[m] - weight * float(costs[m]) for m in probabilities}
    assert utility[chosen] == pytest.approx(max(utility.values()), abs=1e-6)


@pytest.fixture(scope="module")
def routerbench_slice() -> Dataset:
    if not ROUTERBENCH.exists():  # shared/ lies beside the clone; in CI it must
        if os.environ.get("CI"):
            pytest.fail(f"{ROUTERBENCH} is not there: CI runs every test")
        pytest.skip(f"{ROUTERBENCH} is not there")
    dataset = read_dataset(ROUTERBENCH)
    return dataset.subset(range(0, len(dataset), 7))  # about 320 prompts of all three tasks


def test_vectorised_routing_agrees_with_select_model(routerbench_slice: Dataset) -> None:
    router = train_router(routerbench_slice, targets=(0.99,), folds=3)
    features = Features.of(routerbench_slice, router.spec.dimensions)
    rows = list(range(len(routerbench_slice)))
    fitted = fit(features, rows, router.spec)
    probabilities, costs = fitted.predict(features, rows)
    weight = router.operating_point(0.99).cost_weight
    available = ~np.isnan(features.quality)
    fast = route(probabilities, costs / router.reference_cost, weight, available)
    for i, example in enumerate(routerbench_slice.examples):
        predicted = router.predict(example.messages)
        assert predicted[router.models[0]] == pytest.approx(probabilities[i, 0], abs=1e-4)
        fit_models = {m: p for m, p in predicted.items() if m in example.outcomes}
        cost = router.predict_costs(example.messages)
        share = requirement_for(fit_models, cost, weight / router.reference_cost)
        candidates = [Candidate(m, cost[m], cost[m], p) for m, p in fit_models.items()]
        assert select_model(candidates, quality_requirement=share).model == router.models[fast[i]]


def test_prediction_is_well_under_a_millisecond(routerbench_slice: Dataset) -> None:
    router = train_router(routerbench_slice, targets=(0.99,), folds=2, content_scales=(0.1,))
    examples = routerbench_slice.examples[:200]
    start = time.perf_counter()
    for example in examples:
        router.predict(example.messages)
        router.predict_costs(example.messages)
    per_prompt = (time.perf_counter() - start) / len(examples)
    assert per_prompt < 0.003  # measured ≈ 0.3 ms; loose for slow machines
