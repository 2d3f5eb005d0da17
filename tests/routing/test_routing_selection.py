"""Selection: eligibility with reasons, each strategy, budget shifts, fallbacks, explanation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thrifty.budgets.policy import Downgrading, Restrictions
from thrifty.routing.feedback import QualityBook
from thrifty.routing.selection import FACTORS, Candidate, select_model
from thrifty.routing.strategy import Strategy

D = Decimal


def _c(model: str, cost: str, quality: float, **extra: object) -> Candidate:
    worst = extra.pop("worst", None)
    return Candidate(model, D(cost), D(worst or cost) * 4, quality, **extra)  # type: ignore[arg-type]


POOL = [
    _c("opus", "0.0500", 0.96, latency_ms=900.0),
    _c("sonnet", "0.0100", 0.93, latency_ms=500.0),
    _c("mini", "0.0006", 0.80, latency_ms=200.0),
    _c("tiny", "0.0001", 0.60, latency_ms=100.0, error_rate=0.5),
]


def _reasons(decision) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {a.model: a.reason for a in decision.alternatives}


def test_cost_aware_is_the_cheapest_that_meets_the_requirement() -> None:
    decision = select_model(POOL, quality_requirement=0.95)
    assert decision.model == "sonnet"  # 0.93 ≥ 0.95 × 0.96 = 0.912; mini 0.80 is not
    assert decision.required_quality == pytest.approx(0.912)
    reasons = _reasons(decision)
    assert reasons["mini"] == "quality below requirement (0.800 < 0.912)"
    assert reasons["opus"] == "costs more than sonnet"
    assert decision.fallbacks == ("opus", "mini", "tiny")
    opus = next(a for a in decision.alternatives if a.model == "opus")
    assert opus.cost_difference == D("0.0400")
    assert opus.quality_difference == pytest.approx(0.03)
    assert decision.json()["selectedModel"] == "sonnet"
    assert select_model(POOL, quality_requirement=0.99).model == "opus"
    assert select_model(POOL, quality_requirement=0.6).model == "tiny"


@pytest.mark.parametrize(
    ("strategy", "winner"),
    [
        (Strategy.CHEAPEST, "tiny"),
        (Strategy.FASTEST, "tiny"),
        (Strategy.QUALITY_FIRST, "opus"),
        (Strategy.BALANCED, "mini"),  # 17× cheaper than sonnet for 14% less quality
    ],
)
def test_strategies(strategy: Strategy, winner: str) -> None:
    decision = select_model(POOL, strategy=strategy)
    assert decision.model == winner
    assert decision.scores is not None
    if strategy is Strategy.BALANCED:
        totals = [a.scores.total for a in decision.alternatives if a.scores]
        assert all(total <= decision.scores.total for total in totals)


def test_composite_score_is_the_weighted_sum() -> None:
    decision = select_model(POOL, strategy=Strategy.BALANCED)
    scores = decision.scores
    assert scores is not None
    factors = FACTORS[Downgrading.NONE]
    assert scores.total == pytest.approx(
        factors.budget * scores.budget + factors.quality * scores.quality
        + factors.task * scores.task + factors.history * scores.history
    )  # fmt: skip
    cheapest = next(a for a in decision.alternatives if a.model == "tiny").scores
    assert cheapest is not None and cheapest.budget == 1.0 and cheapest.history == 0.5


def test_eligibility_reasons() -> None:
    pool = [
        _c("vision-less", "0.001", 0.9, unfit="no vision support"),
        _c("blocked", "0.001", 0.9),
        _c("pricey", "0.9", 0.99),
        _c("huge-worst", "0.002", 0.95, worst="1"),
        _c("ok", "0.003", 0.9),
    ]
    restrictions = Restrictions(
        blocked_models=frozenset({"blocked"}), max_cost_per_request_nano=2_000_000_000
    )
    decision = select_model(pool, cost_limit=D("0.5"), restrictions=restrictions)
    assert decision.model == "ok"
    assert _reasons(decision) == {
        "vision-less": "no vision support",
        "blocked": "blocked by a budget",
        "pricey": "over cost limit 0.50 USD",
        "huge-worst": "worst case over the per-request cap of 2.00 USD",
    }
    approval = Restrictions(require_approval_above_nano=5_000_000)
    assert _reasons(select_model(pool, restrictions=approval))["huge-worst"] == (
        "needs approval above 0.005 USD"
    )


def test_budgets_relax_the_requirement_and_enforce_cheaper_models() -> None:
    prefer = Restrictions(model_downgrading=Downgrading.PREFER, downgrade_percent=D(70))
    tight = [_c("a", "0.01", 0.95), _c("b", "0.005", 0.93), _c("c", "0.001", 0.5)]
    assert select_model(tight, quality_requirement=0.99).model == "a"
    relaxed = select_model(tight, quality_requirement=0.99, restrictions=prefer)
    assert relaxed.model == "b"  # 0.93 ≥ 0.97 × 0.95 = 0.9215
    assert relaxed.factors == FACTORS[Downgrading.PREFER]
    enforce = Restrictions(model_downgrading=Downgrading.ENFORCE, downgrade_percent=D(85))
    decision = select_model(tight, quality_requirement=0.99, restrictions=enforce)
    assert _reasons(decision)["a"] == "restricted at 85%"  # above the median cost
    assert decision.model == "b"
    # With a requested model, its cost is the ceiling and its quality the bar.
    referenced = select_model(tight, restrictions=enforce, reference="b")
    assert referenced.model == "b"


def test_no_eligible_candidate() -> None:
    decision = select_model([_c("x", "1", 0.9, unfit="no tools support")])
    assert decision.model is None
    assert decision.alternatives[0].reason == "no tools support"
    assert decision.json()["selectedModel"] is None


def test_configured_fallbacks_come_first_and_can_be_off() -> None:
    decision = select_model(POOL, configured_fallbacks={"sonnet": ["mini", "nope"]})
    assert decision.fallbacks == ("mini", "opus", "tiny")
    assert select_model(POOL, fallback_chain=False).fallbacks == ()
    assert select_model(POOL, max_fallbacks=1).fallbacks == ("opus",)


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=D("0.000001"), max_value=D(10), places=6),
            st.floats(min_value=0.01, max_value=1),
        ),
        min_size=1,
        max_size=8,
    ),
    st.floats(min_value=0.5, max_value=1),
)
def test_cost_aware_never_picks_a_costlier_model_that_also_meets_the_bar(
    specs: list[tuple[Decimal, float]], share: float
) -> None:
    pool = [Candidate(f"m{i}", cost, cost, q) for i, (cost, q) in enumerate(specs)]
    decision = select_model(pool, quality_requirement=share)
    assert decision.model is not None and decision.quality is not None
    floor = share * max(q for _, q in specs)
    assert decision.quality >= floor
    chosen_cost = decision.estimated_cost
    assert chosen_cost is not None
    assert all(c.estimated_cost >= chosen_cost for c in pool if c.quality >= floor)


def test_feedback_moves_the_posterior_and_explores() -> None:
    import random

    book = QualityBook({("m", "code"): (80, D(8))}, prior_strength=20, exploration=0.0)
    assert book.expected("m", "code", 0.9) == pytest.approx((18 + 8) / 100)
    assert book.expected("m", "chat", 0.9) == pytest.approx(0.9)
    explorer = QualityBook(book.observations, prior_strength=20, exploration=1.0)
    draws = {round(explorer.quality("m", "code", 0.9, random.Random(seed)), 6) for seed in range(5)}
    assert len(draws) == 5 and all(0 < d < 1 for d in draws)
    with pytest.raises(ValueError, match="exploration"):
        QualityBook(exploration=2)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_the_explanation_json_is_each_alternatives_own(strategy: Strategy) -> None:
    pool = [*POOL, _c("blind", "0.0002", 0.7, unfit="no vision support")]
    decision = select_model(pool, strategy=strategy, cost_limit=D("0.02"))
    body = decision.json()
    assert body["alternatives"] == [a.json() for a in decision.alternatives]
    assert body["scores"] == decision.scores.json()  # type: ignore[union-attr]
    assert {a["model"] for a in body["alternatives"]} == {c.model for c in pool} - {decision.model}
