from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from budget_builders import NOW, USD, spec, state
from hypothesis import given
from hypothesis import strategies as st

from thrifty.budgets.model import BudgetState, Mode, Priority, Scope, ScopeType
from thrifty.budgets.overrides import Override
from thrifty.budgets.policy import NO_RESTRICTIONS, Downgrading, restrictions_for
from thrifty.budgets.thresholds import Action, Threshold

LATER = NOW + timedelta(days=1)


def at(percent: str, **kwargs: object) -> BudgetState:
    budget = spec(limit=100 * USD, **kwargs)  # type: ignore[arg-type]
    return state(budget, posted=int(Decimal(percent) * USD))


def override(**changes: object) -> Override:
    values: dict[str, object] = {
        "id": "o1",
        "budget_id": "b1",
        "amount_nano": 10 * USD,
        "expires_at": LATER,
        "approved": True,
    }
    values.update(changes)
    return Override(**values)  # type: ignore[arg-type]


def test_below_the_first_steering_threshold_nothing_is_restricted() -> None:
    assert restrictions_for([at("0")], now=NOW) == NO_RESTRICTIONS
    assert restrictions_for([at("69.99")], now=NOW) == NO_RESTRICTIONS


def test_70_percent_prefers_cheaper_models() -> None:
    restrictions = restrictions_for([at("70")], now=NOW)
    assert restrictions.model_downgrading is Downgrading.PREFER
    assert restrictions.max_cost_per_request_nano is None
    assert not restrictions.blocked
    assert restrictions.reasons == (
        "budget b1 (team:eng) at 70.00% of 100.00 USD, 70% threshold: prefer cheaper models",
    )


def test_85_percent_enforces_cheaper_models_and_approval() -> None:
    restrictions = restrictions_for([at("85")], now=NOW)
    assert restrictions.model_downgrading is Downgrading.ENFORCE
    assert restrictions.require_approval_above_nano == int(1.5 * USD)  # 10% of 15 USD left
    assert restrictions.max_cost_per_request_nano is None
    assert not restrictions.block_non_essential


def test_95_percent_caps_request_cost_and_blocks_non_essential() -> None:
    restrictions = restrictions_for([at("96")], now=NOW)
    assert restrictions.max_cost_per_request_nano == USD // 5  # 5% of 4 USD left
    assert restrictions.require_approval_above_nano == 4 * USD // 10
    assert restrictions.block_non_essential and not restrictions.blocked
    refused = restrictions_for([at("96")], now=NOW, priority=Priority.NON_ESSENTIAL)
    assert refused.blocked and refused.blocking_budget == "b1"


def test_100_percent_blocks_everything_without_an_override() -> None:
    for priority in Priority:
        restrictions = restrictions_for([at("100")], now=NOW, priority=priority)
        assert restrictions.blocked
        assert restrictions.blocking_budget == "b1"
        assert "all requests blocked" in restrictions.reasons[-1]


def test_critical_request_with_approved_override_passes_at_100_percent() -> None:
    restrictions = restrictions_for(
        [at("100")], now=NOW, priority=Priority.CRITICAL, overrides=[override()]
    )
    assert not restrictions.blocked
    assert restrictions.overrides_used == ("o1",)
    assert restrictions.model_downgrading is Downgrading.ENFORCE
    assert restrictions.require_approval_above_nano is None  # the override is the approval
    assert restrictions.max_cost_per_request_nano == USD // 2  # 5% of the 10 USD allowance


@pytest.mark.parametrize(
    ("changes", "priority"),
    [
        ({}, Priority.NORMAL),
        ({"approved": False}, Priority.CRITICAL),
        ({"expires_at": NOW}, Priority.CRITICAL),
        ({"budget_id": "other"}, Priority.CRITICAL),
        ({"models": frozenset({"gpt-4o"})}, Priority.CRITICAL),
        ({"consumed_nano": 10 * USD}, Priority.CRITICAL),
    ],
)
def test_overrides_that_do_not_match_do_not_unblock(
    changes: dict[str, object], priority: Priority
) -> None:
    restrictions = restrictions_for(
        [at("100")], now=NOW, priority=priority, overrides=[override(**changes)], model="small"
    )
    assert restrictions.blocked


def test_override_by_model() -> None:
    scoped = override(models=frozenset({"gpt-4o"}))
    restrictions = restrictions_for(
        [at("100")], now=NOW, priority=Priority.CRITICAL, overrides=[scoped], model="gpt-4o"
    )
    assert not restrictions.blocked


def test_soft_budget_notifies_but_never_blocks() -> None:
    restrictions = restrictions_for(
        [at("150", mode=Mode.SOFT)], now=NOW, priority=Priority.NON_ESSENTIAL
    )
    assert not restrictions.blocked and not restrictions.block_non_essential
    assert restrictions.max_cost_per_request_nano is None
    assert restrictions.model_downgrading is Downgrading.ENFORCE
    assert any("soft budget, not enforced" in reason for reason in restrictions.reasons)


def test_extension_raises_the_effective_limit() -> None:
    budget = spec(limit=100 * USD)
    assert restrictions_for([state(budget, posted=100 * USD)], now=NOW).blocked
    extended = state(budget, posted=100 * USD, extension=100 * USD)  # now at 50%
    assert restrictions_for([extended], now=NOW) == NO_RESTRICTIONS


def test_budget_for_other_models_does_not_apply() -> None:
    scoped = at("100", models=frozenset({"gpt-4o", "o1"}))
    assert restrictions_for([scoped], now=NOW, model="small") == NO_RESTRICTIONS
    assert restrictions_for([scoped], now=NOW, model="gpt-4o").blocked
    unchosen = restrictions_for([scoped], now=NOW)
    assert not unchosen.blocked
    assert unchosen.blocked_models == frozenset({"gpt-4o", "o1"})


def test_chain_takes_the_strictest_and_names_the_first_blocking_budget() -> None:
    org_budget = spec("org", limit=1000 * USD, scope=Scope(ScopeType.ORGANIZATION, "acme"))
    org = state(org_budget, posted=990 * USD)
    team = state(spec("team", limit=100 * USD), posted=100 * USD)
    key = state(spec("key", limit=10 * USD, scope=Scope(ScopeType.KEY, "k1")), posted=8 * USD)
    restrictions = restrictions_for([key, team, org], now=NOW)
    assert restrictions.blocked and restrictions.blocking_budget == "team"
    assert restrictions.model_downgrading is Downgrading.ENFORCE
    assert any(reason.startswith("budget key (key:k1)") for reason in restrictions.reasons)
    # The smallest cap wins: 5% of the key's 0.40 USD left, not 5% of the org's 10 USD.
    key = state(key.spec, posted=int(9.6 * USD))
    assert restrictions_for([key, org], now=NOW).max_cost_per_request_nano == USD // 50


def test_custom_thresholds_accumulate_actions() -> None:
    thresholds = (
        Threshold(Decimal(10), (Action.RESTRICT_MODELS,)),
        Threshold(Decimal(20), (Action.NOTIFY,)),
    )
    restrictions = restrictions_for([at("30", thresholds=thresholds)], now=NOW)
    assert restrictions.model_downgrading is Downgrading.ENFORCE


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        restrictions_for([], now=NOW.replace(tzinfo=None))


actions = st.lists(st.sampled_from(list(Action)), min_size=1, max_size=3, unique=True)
thresholds = st.lists(
    st.tuples(st.integers(min_value=1, max_value=100), actions),
    min_size=1,
    max_size=5,
    unique_by=lambda pair: pair[0],
).map(lambda pairs: tuple(Threshold(Decimal(p), tuple(a)) for p, a in sorted(pairs)))
budget_lines = st.tuples(
    st.integers(min_value=0, max_value=1000 * USD),  # limit
    st.sampled_from(list(Mode)),
    st.one_of(st.none(), st.just(frozenset({"big"}))),
    thresholds,
    st.integers(min_value=0, max_value=1000 * USD),  # spend
    st.integers(min_value=0, max_value=1000 * USD),  # more spend
    st.integers(min_value=0, max_value=10 * USD),  # extension
)


def build_chain(
    lines: list[tuple[int, Mode, frozenset[str] | None, tuple[Threshold, ...], int, int, int]],
    *,
    later: bool,
) -> list[BudgetState]:
    return [
        state(
            spec(f"b{n}", limit=limit, mode=mode, models=models, thresholds=levels),
            posted=spent + (more if later else 0),
            extension=extension,
        )
        for n, (limit, mode, models, levels, spent, more, extension) in enumerate(lines)
    ]


@given(
    st.lists(budget_lines, min_size=1, max_size=3),
    st.sampled_from(list(Priority)),
    st.sampled_from([None, "big", "small"]),
    st.booleans(),
)
def test_more_spend_never_loosens_restrictions(
    lines: list[tuple[int, Mode, frozenset[str] | None, tuple[Threshold, ...], int, int, int]],
    priority: Priority,
    model: str | None,
    with_override: bool,
) -> None:
    overrides = [override(budget_id="b0", amount_nano=5 * USD)] if with_override else []
    before = restrictions_for(
        build_chain(lines, later=False),
        now=NOW,
        priority=priority,
        model=model,
        overrides=overrides,
    )
    after = restrictions_for(
        build_chain(lines, later=True),
        now=NOW,
        priority=priority,
        model=model,
        overrides=overrides,
    )
    assert after.at_least_as_strict_as(before)


@given(st.lists(budget_lines, min_size=1, max_size=3), st.sampled_from(list(Priority)))
def test_soft_budgets_never_block(
    lines: list[tuple[int, Mode, frozenset[str] | None, tuple[Threshold, ...], int, int, int]],
    priority: Priority,
) -> None:
    soft = [
        (limit, Mode.SOFT, models, levels, spent, more, extension)
        for limit, _, models, levels, spent, more, extension in lines
    ]
    restrictions = restrictions_for(build_chain(soft, later=True), now=NOW, priority=priority)
    assert not restrictions.blocked
    assert not restrictions.block_non_essential
    assert not restrictions.blocked_models
    assert restrictions.max_cost_per_request_nano is None
    assert restrictions.require_approval_above_nano is None
