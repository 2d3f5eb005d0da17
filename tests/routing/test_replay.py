"""Reading datasets (errors name the line and field) and scoring replays (exact totals,
references, the curve's area; the evaluated file's outcomes never steer a choice)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from thrifty.errors import InvalidInput
from thrifty.routing.dataset import Dataset, parse_dataset
from thrifty.routing.replay import (
    MeanQualityPolicy,
    RouterPolicy,
    area_under_curve,
    choose,
    oracle_choices,
    replay,
    score,
    strongest_choices,
)
from thrifty.routing.strategy import Strategy
from thrifty.routing.training import train_router

GOOD = {"id": "a", "messages": [{"role": "user", "content": "hi"}],
        "outcomes": {"m": {"quality": 1, "cost": 0.1}}}  # fmt: skip


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


@pytest.mark.parametrize(
    ("bad", "where"),
    [
        ("{not json", "data.jsonl:2: line: not valid JSON"),
        ("[1]", "data.jsonl:2: line: must be a JSON object"),
        (line(id=None), "data.jsonl:2: id:"),
        (line(messages=[]), "data.jsonl:2: messages:"),
        (line(messages=[{"role": "user"}]), "data.jsonl:2: messages[0].content:"),
        (line(messages=[{"content": "x"}]), "data.jsonl:2: messages[0].role:"),
        (line(outcomes={}), "data.jsonl:2: outcomes:"),
        (line(outcomes={"m": {"quality": 2, "cost": 0}}), "data.jsonl:2: outcomes.m.quality:"),
        (line(outcomes={"m": {"quality": 1}}), "data.jsonl:2: outcomes.m.cost:"),
        (line(outcomes={"m": {"quality": 1, "cost": -1}}), "data.jsonl:2: outcomes.m.cost:"),
        (line(task=3), "data.jsonl:2: task:"),
        (line(id="first"), "data.jsonl:2: id: duplicate id 'first' (first on line 1)"),
    ],
)
def test_bad_lines_name_the_line_and_the_field(bad: str, where: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_dataset([line(id="first"), bad], "data.jsonl")
    assert caught.value.message.startswith(where)


def test_costs_are_read_exactly() -> None:
    dataset = parse_dataset([line(outcomes={"m": {"quality": 1, "cost": 0.1}})] * 1, "d")
    assert dataset.examples[0].outcomes["m"].cost == Decimal("0.1")


def make(rows: list[tuple[str, dict[str, tuple[float, str]]]], tasks: bool = False) -> Dataset:
    """A dataset of ``(text, {model: (quality, cost)})``; JSON writes ``0.3`` as ``0.3``."""
    lines = [
        json.dumps({
            "id": f"p{i}", "messages": [{"role": "user", "content": text}],
            "task": text.split()[0] if tasks else None,
            "outcomes": {m: {"quality": q, "cost": float(c)} for m, (q, c) in outcomes.items()},
        })
        for i, (text, outcomes) in enumerate(rows)
    ]  # fmt: skip
    return parse_dataset(lines, "made")


def test_score_sums_exact_decimals_and_shares() -> None:
    data = make([
        ("a", {"big": (1.0, "0.3"), "small": (1.0, "0.1")}),
        ("b", {"big": (1.0, "0.3"), "small": (0.0, "0.1")}),
        ("c", {"big": (0.0, "0.3"), "small": (1.0, "0.1")}),
    ])  # fmt: skip
    reference = strongest_choices(data, ("big", "small"))
    result = score(data, ["small", "big", "small"], reference)
    assert result.total_cost == Decimal("0.5")  # a float sum would give 0.5000000000000001
    assert result.mean_quality == 1.0
    assert result.cost_share == pytest.approx(0.5 / 0.9)
    assert result.quality_share == pytest.approx(3 / 2)
    assert oracle_choices(data) == ["small", "big", "small"]


def test_the_strongest_reference_falls_back_where_it_has_no_answer() -> None:
    data = make(
        [("a", {"big": (1.0, "0.3"), "small": (1.0, "0.1")}), ("b", {"small": (1.0, "0.1")})]
    )
    assert strongest_choices(data, ("big", "small")) == ["big", "small"]


def test_area_under_the_step_frontier() -> None:
    assert area_under_curve([(1.0, 1.0)]) == 0.0
    assert area_under_curve([(0.0, 1.0)]) == 1.0
    assert area_under_curve([(0.5, 0.8), (1.0, 1.0), (0.7, 0.5)]) == pytest.approx(0.4)
    assert area_under_curve([(0.25, 0.6), (2.0, 5.0)]) == pytest.approx(0.45)


def test_mean_quality_baselines_per_model_and_per_task() -> None:
    rows = [
        (f"{task} q{i}", {"big": (1.0, "0.3"), "small": (float(task == "easy"), "0.1")})
        for task in ("easy", "hard")
        for i in range(3)
    ]
    data = make(rows, tasks=True)
    overall = MeanQualityPolicy.of(data, by_task=False, name="mean")
    assert set(choose(data, overall, Strategy.COST_AWARE, 0.99)) == {"big"}
    per_task = MeanQualityPolicy.of(data, by_task=True, name="task")
    assert choose(data, per_task, Strategy.COST_AWARE, 0.95) == ["small"] * 3 + ["big"] * 3


def _word_data(flip: bool) -> Dataset:
    rows = []
    for i in range(80):
        easy = i % 2 == 0
        good = easy != flip
        outcomes = {"cheap": (float(good), "0.001"), "strong": (1.0, "0.01")}
        rows.append((f"{'easy' if easy else 'tricky'} item{i % 5} thing", outcomes))
    return make(rows)


def test_choices_never_depend_on_the_evaluated_outcomes() -> None:
    router = train_router(_word_data(flip=False), targets=(0.99,), folds=2, content_scales=(1.0,))
    honest, flipped = _word_data(flip=False), _word_data(flip=True)
    setting = RouterPolicy(router).setting_for(0.99)
    picks = choose(honest, RouterPolicy(router), Strategy.COST_AWARE, setting)
    assert picks == choose(flipped, RouterPolicy(router), Strategy.COST_AWARE, setting)
    assert picks.count("cheap") == 40
    ranking = router.ranking()
    good = replay(honest, RouterPolicy(router), ranking=ranking, curve_settings=(0.0, 1.0))
    bad = replay(flipped, RouterPolicy(router), ranking=ranking, curve_settings=(0.0, 1.0))
    assert good["results"][0]["qualityShare"] == 1.0
    assert bad["results"][0]["qualityShare"] == 0.5  # the outcomes only score
    assert good["strongestModel"] == "strong" and len(good["curve"]) == 2
