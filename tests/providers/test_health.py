"""The circuit breaker's state machine, on a fake monotonic clock."""

from __future__ import annotations

import pytest

from thrifty.providers.health import (
    DEFAULT_POLICY,
    CircuitState,
    Outcome,
    ProviderHealth,
    outcome_of,
)

P, M = "acme-ai", "big-model"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> ProviderHealth:
    return ProviderHealth(clock)


def fail(health: ProviderHealth, times: int = 1) -> CircuitState:
    state = CircuitState.CLOSED
    for _ in range(times):
        state = health.record(P, M, Outcome.FAILED)
    return state


def trip(health: ProviderHealth) -> None:
    assert fail(health, DEFAULT_POLICY.consecutive_failures) is CircuitState.OPEN


def test_defaults_are_the_documented_ones() -> None:
    policy = DEFAULT_POLICY
    assert (policy.consecutive_failures, policy.window_calls, policy.window_min_calls) == (
        5,
        20,
        10,
    )
    assert policy.window_failure_share == 0.5
    assert (policy.cool_down_s, policy.max_cool_down_s) == (30.0, 300.0)


def test_unknown_circuits_are_closed(health: ProviderHealth) -> None:
    assert health.admit(P, M)
    assert health.view(P, M).state is CircuitState.CLOSED
    assert health.views() == {}


def test_opens_after_consecutive_failures(health: ProviderHealth) -> None:
    assert fail(health, 4) is CircuitState.CLOSED
    assert health.admit(P, M)
    assert fail(health) is CircuitState.OPEN
    assert not health.admit(P, M)
    assert not health.admit(P, M, may_probe=True)
    view = health.view(P, M)
    assert view.state is CircuitState.OPEN and view.retry_in_s == 30.0
    assert health.admit("other", M) and health.admit(P, "other")  # keyed by both


def test_a_success_resets_the_consecutive_count(health: ProviderHealth) -> None:
    fail(health, 4)
    health.record(P, M, Outcome.OK)
    assert fail(health, 4) is CircuitState.CLOSED
    assert health.view(P, M).consecutive_failures == 4


def test_opens_when_more_than_half_of_recent_calls_failed(health: ProviderHealth) -> None:
    # Alternating: never 5 in a row. 10 calls with 5 failures is not more than half.
    for _ in range(5):
        health.record(P, M, Outcome.OK)
        assert health.record(P, M, Outcome.FAILED) is CircuitState.CLOSED
    # Now 11 calls, 6 failed: more than half of at least 10 calls.
    assert health.record(P, M, Outcome.FAILED) is CircuitState.OPEN


def test_the_rate_rule_needs_enough_calls(health: ProviderHealth) -> None:
    for _ in range(4):
        health.record(P, M, Outcome.FAILED)
        health.record(P, M, Outcome.OK)
    assert health.record(P, M, Outcome.FAILED) is CircuitState.CLOSED  # 5 of 9
    view = health.view(P, M)
    assert (view.recent_calls, view.recent_failures) == (9, 5)


def test_the_rate_window_forgets_old_calls(health: ProviderHealth) -> None:
    for _ in range(9):  # half of the calls fail: not more than half
        health.record(P, M, Outcome.OK)
        health.record(P, M, Outcome.FAILED)
    assert health.view(P, M).recent_failures == 9
    for _ in range(20):
        health.record(P, M, Outcome.OK)
    view = health.view(P, M)
    assert (view.state, view.recent_calls, view.recent_failures) == (CircuitState.CLOSED, 20, 0)
    for _ in range(4):
        health.record(P, M, Outcome.FAILED)
        health.record(P, M, Outcome.OK)
    assert health.view(P, M).recent_failures == 4


def test_rejections_and_aborts_do_not_count(health: ProviderHealth) -> None:
    fail(health, 4)
    for _ in range(10):
        health.record(P, M, Outcome.REJECTED)
        health.record(P, M, Outcome.ABORTED)
    view = health.view(P, M)
    assert view.state is CircuitState.CLOSED
    assert (view.consecutive_failures, view.recent_calls) == (4, 4)
    assert fail(health) is CircuitState.OPEN


def test_half_open_lets_exactly_one_probe_through(health: ProviderHealth, clock: FakeClock) -> None:
    trip(health)
    clock.advance(29.9)
    assert not health.admit(P, M)
    clock.advance(0.1)
    assert health.view(P, M).state is CircuitState.HALF_OPEN
    assert not health.admit(P, M, may_probe=False)  # a fallback behind a healthy model
    assert health.admit(P, M)  # the probe
    assert health.view(P, M).probe_in_flight
    assert not health.admit(P, M)
    assert not health.admit(P, M)


def test_a_successful_probe_closes_the_circuit(health: ProviderHealth, clock: FakeClock) -> None:
    trip(health)
    clock.advance(30)
    assert health.admit(P, M)
    assert health.record(P, M, Outcome.OK, latency_ms=120, ttft_ms=40) is CircuitState.CLOSED
    view = health.view(P, M)
    assert (view.consecutive_failures, view.recent_calls, view.cool_down_s) == (0, 0, 30.0)
    assert (view.last_latency_ms, view.last_ttft_ms) == (120, 40)
    assert health.admit(P, M) and health.admit(P, M)
    assert fail(health, 4) is CircuitState.CLOSED  # the count starts afresh


def test_a_failed_probe_reopens_with_a_doubled_cool_down(
    health: ProviderHealth, clock: FakeClock
) -> None:
    trip(health)
    expected = [60.0, 120.0, 240.0, 300.0, 300.0]
    cool_down = 30.0
    for doubled in expected:
        clock.advance(cool_down)
        assert health.admit(P, M)
        assert fail(health) is CircuitState.OPEN
        view = health.view(P, M)
        assert view.cool_down_s == doubled and view.retry_in_s == doubled
        clock.advance(doubled - 0.5)
        assert not health.admit(P, M)
        clock.advance(-(doubled - 0.5))
        cool_down = doubled
    clock.advance(cool_down)
    assert health.admit(P, M)
    assert health.record(P, M, Outcome.OK) is CircuitState.CLOSED
    trip(health)
    assert health.view(P, M).cool_down_s == 30.0  # a close resets the back-off


def test_a_probe_that_learns_nothing_frees_the_slot(
    health: ProviderHealth, clock: FakeClock
) -> None:
    trip(health)
    clock.advance(30)
    assert health.admit(P, M)
    assert health.record(P, M, Outcome.ABORTED) is CircuitState.HALF_OPEN
    assert health.admit(P, M)
    assert not health.admit(P, M)


def test_a_probe_that_never_reports_stops_blocking_after_its_lease(
    health: ProviderHealth, clock: FakeClock
) -> None:
    trip(health)
    clock.advance(30)
    assert health.admit(P, M)
    clock.advance(DEFAULT_POLICY.probe_lease_s - 1)
    assert not health.admit(P, M)
    clock.advance(1)
    assert health.admit(P, M)


def test_outcomes_while_open_are_ignored(health: ProviderHealth, clock: FakeClock) -> None:
    trip(health)
    clock.advance(10)
    assert health.record(P, M, Outcome.OK) is CircuitState.OPEN  # begun before it opened
    assert health.record(P, M, Outcome.FAILED) is CircuitState.OPEN
    assert health.view(P, M).retry_in_s == 20.0


def test_out_of_rotation_error_names_provider_and_model(health: ProviderHealth) -> None:
    trip(health)
    error = health.out_of_rotation(P, M)
    assert error.status == 503 and error.field == "model" and error.code == "circuit_open"
    assert repr(P) in error.message and repr(M) in error.message
    assert "next probe in 30 s" in error.message


@pytest.mark.parametrize(
    ("status", "upstream", "expected"),
    [
        ("ok", None, Outcome.OK),
        ("interrupted", None, Outcome.FAILED),
        ("disconnected", None, Outcome.ABORTED),
        ("error", None, Outcome.ABORTED),
        ("error", 429, Outcome.FAILED),
        ("error", 503, Outcome.FAILED),
        ("error", 504, Outcome.FAILED),
        ("error", 501, Outcome.FAILED),
        ("error", "502", Outcome.FAILED),
        ("error", 400, Outcome.REJECTED),
        ("error", 401, Outcome.REJECTED),
        ("error", "oops", Outcome.ABORTED),
        ("error", True, Outcome.ABORTED),
        ("something-new", 500, Outcome.ABORTED),
    ],
)
def test_outcome_of_a_usage_record(status: str, upstream: object, expected: Outcome) -> None:
    assert outcome_of(status, upstream) is expected
