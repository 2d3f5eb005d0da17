from __future__ import annotations

from datetime import timedelta

import pytest
from budget_builders import NOW, USD, spec, state
from hypothesis import given
from hypothesis import strategies as st

from thrifty.budgets.fit import FitResult, fits
from thrifty.budgets.model import Mode, Priority
from thrifty.budgets.overrides import Extension, Override, active_extension_nano
from thrifty.errors import InvalidInput


def test_fits_up_to_the_last_nano() -> None:
    budget = state(spec(limit=100), posted=60, held=30)
    assert fits([budget], 10) == FitResult(True)
    assert fits([budget], 11) == FitResult(False, "b1", 1)


def test_first_failing_budget_in_chain_order_is_named() -> None:
    chain = [state(spec("key", limit=100), posted=95), state(spec("team", limit=50), posted=50)]
    assert fits(chain, 10) == FitResult(False, "key", 5)
    assert fits(chain, 1).failing_budget == "team"


def test_soft_and_other_model_budgets_do_not_refuse() -> None:
    soft = state(spec(limit=10, mode=Mode.SOFT), posted=50)
    scoped = state(spec("scoped", limit=10, models=frozenset({"big"})), posted=10)
    assert fits([soft], 5).ok
    assert fits([scoped], 5, model="small").ok
    assert not fits([scoped], 5, model="big").ok
    assert not fits([scoped], 5).ok  # no model chosen yet: every budget counts


def test_extensions_and_carry_over_raise_the_limit() -> None:
    assert fits([state(spec(limit=100), posted=100, extension=20, carried=5)], 25).ok


def test_critical_override_adds_its_remaining_allowance() -> None:
    budget = state(spec(limit=100), posted=100)
    grant = Override("o1", "b1", 50, NOW + timedelta(hours=1), approved=True, consumed_nano=20)
    assert fits([budget], 30, priority=Priority.CRITICAL, overrides=[grant]).ok
    assert not fits([budget], 31, priority=Priority.CRITICAL, overrides=[grant]).ok
    assert not fits([budget], 1, overrides=[grant]).ok  # normal priority
    later = NOW + timedelta(hours=2)
    assert not fits([budget], 1, priority=Priority.CRITICAL, overrides=[grant], now=later).ok


def test_negative_amount_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        fits([], -1)


def test_active_extensions_expire_by_themselves() -> None:
    extensions = [
        Extension("e1", "b1", 10, NOW - timedelta(hours=1), NOW + timedelta(hours=1)),
        Extension("e2", "b1", 20, NOW + timedelta(hours=1), NOW + timedelta(hours=2)),
        Extension("e3", "b2", 40, NOW - timedelta(hours=1), NOW + timedelta(hours=1)),
    ]
    assert active_extension_nano(extensions, "b1", NOW) == 10
    assert active_extension_nano(extensions, "b1", NOW + timedelta(hours=1)) == 20
    assert active_extension_nano(extensions, "b1", NOW + timedelta(hours=2)) == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: Extension("e", "b", 0, NOW, NOW + timedelta(hours=1)),
        lambda: Extension("e", "b", 1, NOW, NOW),
        lambda: Extension("e", "b", 1, NOW.replace(tzinfo=None), NOW),
        lambda: Override("o", "b", -5, NOW),
        lambda: Override("o", "b", 5, NOW, models=frozenset()),
    ],
)
def test_bad_extensions_and_overrides_are_refused(make: object) -> None:
    with pytest.raises(InvalidInput):
        make()  # type: ignore[operator]


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10**12),
            st.integers(min_value=0, max_value=10**12),
            st.integers(min_value=0, max_value=10**12),
            st.sampled_from(list(Mode)),
        ),
        min_size=1,
        max_size=4,
    ),
    st.integers(min_value=0, max_value=10**12),
)
def test_a_fitting_amount_never_overspends_a_hard_budget(
    lines: list[tuple[int, int, int, Mode]], amount: int
) -> None:
    chain = [
        state(spec(f"b{n}", limit=limit, mode=mode), posted=posted, held=held)
        for n, (limit, posted, held, mode) in enumerate(lines)
    ]
    result = fits(chain, amount)
    hard = [s for s in chain if s.spec.mode is Mode.HARD]
    assert result.ok == all(s.used_nano + amount <= s.limit_nano for s in hard)
    if not result.ok:
        failing = next(s for s in hard if s.spec.id == result.failing_budget)
        assert failing.used_nano + amount - failing.limit_nano == result.shortfall_nano


def test_usd_helper_is_a_billion_nanos() -> None:
    assert USD == 1_000_000_000
