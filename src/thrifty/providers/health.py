"""The live health of each upstream, per process: a circuit breaker per (provider, model).

    closed ──► open       5 consecutive upstream failures, or more than half of the last 20
                          calls failed (once at least 10 were made)
    open ──► half-open    after the cool-down: 30 s, doubled by each failed probe, at most 300 s
    half-open ──► closed  the probe succeeds (the counters and the cool-down start afresh)
    half-open ──► open    the probe fails (the cool-down doubles)

While a circuit is open its model is out of rotation: the gateway skips it and tries the next
model of the fallback chain. Half-open lets exactly one probe through at a time, and only as
the first model a request will try (a fallback behind a healthy model would not be reached, so
it must not hold the probe); the others keep skipping it. A probe that reports nothing within
``PROBE_LEASE_S`` (its hold was refused, or it is still streaming) stops blocking the next.

Only the upstream's own failures count (:func:`outcome_of`): retryable errors (408, 409, 425,
429, 5xx, timeouts, refused connections) and streams it breaks mid-way. A non-retryable answer
(a 400 for a bad request) and a client that hangs up say nothing about the upstream's health.
Outcomes that arrive while a circuit is open come from calls begun before it opened; they are
ignored.

The thresholds are constants for now (``BreakerPolicy``'s defaults). The state is in memory:
each gateway process judges its upstreams from its own traffic, and the durable record that
covers every process is the ``usage_records`` table (``storage.performance_repo``). The clock is
monotonic seconds and injectable, so tests are deterministic. One lock guards all circuits: the
event loop records outcomes and the admin API's worker threads read snapshots.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from thrifty.providers.client import RETRYABLE_STATUSES, UpstreamError

#: A probe that reports nothing for this long no longer blocks the next one.
PROBE_LEASE_S = 60.0


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Outcome(StrEnum):
    """What one upstream call says about the upstream."""

    OK = "ok"
    FAILED = "failed"  # the upstream failed: a retryable error, or a stream it broke
    REJECTED = "rejected"  # it answered with a non-retryable error (the request was refused)
    ABORTED = "aborted"  # the client left or the call was cancelled: nothing learnt


def outcome_of(status: str, upstream_status: object = None) -> Outcome:
    """Classify a usage record: its ``status`` and, for errors, the upstream's HTTP status
    (``None`` when the call ended without an upstream answer, e.g. cancelled)."""
    if status == "ok":
        return Outcome.OK
    if status == "interrupted":
        return Outcome.FAILED
    if status != "error":
        return Outcome.ABORTED  # "disconnected", and any status that blames no upstream
    code = _int_or_none(upstream_status)
    if code is None:
        return Outcome.ABORTED
    return Outcome.FAILED if code in RETRYABLE_STATUSES or code >= 500 else Outcome.REJECTED


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    consecutive_failures: int = 5
    window_calls: int = 20
    window_min_calls: int = 10
    window_failure_share: float = 0.5  # open when the share of failures is above this
    cool_down_s: float = 30.0
    max_cool_down_s: float = 300.0
    probe_lease_s: float = PROBE_LEASE_S


DEFAULT_POLICY = BreakerPolicy()


@dataclass(frozen=True, slots=True)
class CircuitView:
    """A snapshot of one circuit, for the admin API."""

    state: CircuitState
    consecutive_failures: int
    recent_calls: int
    recent_failures: int
    cool_down_s: float
    retry_in_s: float | None  # open: seconds until a probe may go through
    probe_in_flight: bool
    last_outcome: Outcome | None
    last_latency_ms: int | None
    last_ttft_ms: int | None

    def json(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "recent_calls": self.recent_calls,
            "recent_failures": self.recent_failures,
            "cool_down_s": self.cool_down_s,
            "retry_in_s": None if self.retry_in_s is None else round(self.retry_in_s, 1),
            "probe_in_flight": self.probe_in_flight,
            "last_outcome": None if self.last_outcome is None else self.last_outcome.value,
            "last_latency_ms": self.last_latency_ms,
            "last_ttft_ms": self.last_ttft_ms,
        }


@dataclass
class _Circuit:
    policy: BreakerPolicy
    recent: deque[bool] = field(init=False)  # True: the call failed
    consecutive_failures: int = 0
    opened_at: float | None = None  # None: closed
    cool_down_s: float = 0.0
    probe_until: float | None = None
    last_outcome: Outcome | None = None
    last_latency_ms: int | None = None
    last_ttft_ms: int | None = None

    def __post_init__(self) -> None:
        self.recent = deque(maxlen=self.policy.window_calls)
        self.cool_down_s = self.policy.cool_down_s

    def state(self, now: float) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        if now < self.opened_at + self.cool_down_s:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def probing(self, now: float) -> bool:
        return self.probe_until is not None and now < self.probe_until

    def should_open(self) -> bool:
        policy = self.policy
        if self.consecutive_failures >= policy.consecutive_failures:
            return True
        calls = len(self.recent)
        return (
            calls >= policy.window_min_calls
            and sum(self.recent) > policy.window_failure_share * calls
        )

    def open(self, now: float, cool_down_s: float) -> None:
        self.opened_at = now
        self.cool_down_s = min(cool_down_s, self.policy.max_cool_down_s)
        self.probe_until = None

    def close(self) -> None:
        self.recent.clear()
        self.consecutive_failures = 0
        self.opened_at = None
        self.cool_down_s = self.policy.cool_down_s
        self.probe_until = None


class CircuitOpen(UpstreamError):
    """Every model a request could use is out of rotation (503, naming the provider)."""

    code = "circuit_open"

    def __init__(self, message: str) -> None:
        super().__init__(message, status=503, retryable=False)
        self.field = "model"


class ProviderHealth:
    """The circuits of one process, keyed by (provider name, model id)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, policy: BreakerPolicy = DEFAULT_POLICY
    ) -> None:
        self.clock = clock
        self.policy = policy
        self._circuits: dict[tuple[str, str], _Circuit] = {}
        self._lock = threading.Lock()
        #: Called with (provider, model, snapshot) when a closed circuit opens: an upstream
        #: went down (not when a half-open probe fails: that is the same outage).
        self.on_open: list[Callable[[str, str, CircuitView], None]] = []

    def _circuit(self, provider: str, model: str) -> _Circuit:
        circuit = self._circuits.get((provider, model))
        if circuit is None:
            circuit = self._circuits[(provider, model)] = _Circuit(self.policy)
        return circuit

    def admit(self, provider: str, model: str, *, may_probe: bool = True) -> bool:
        """Whether a request may call this model now. Closed: yes. Open: no. Half-open: yes for
        one probe at a time, and only when ``may_probe`` (it is the first model to be tried);
        saying yes then takes the probe until its outcome is recorded or its lease ends."""
        with self._lock:
            circuit = self._circuits.get((provider, model))
            if circuit is None:
                return True
            now = self.clock()
            state = circuit.state(now)
            if state is CircuitState.CLOSED:
                return True
            if state is CircuitState.OPEN or not may_probe or circuit.probing(now):
                return False
            circuit.probe_until = now + self.policy.probe_lease_s
            return True

    def record(
        self,
        provider: str,
        model: str,
        outcome: Outcome,
        *,
        latency_ms: int | None = None,
        ttft_ms: int | None = None,
    ) -> CircuitState:
        """Feed one call's outcome; returns the circuit's state afterwards."""
        opened: CircuitView | None = None
        with self._lock:
            circuit = self._circuit(provider, model)
            now = self.clock()
            state = circuit.state(now)
            circuit.last_outcome = outcome
            circuit.last_latency_ms = latency_ms
            circuit.last_ttft_ms = ttft_ms
            if state is CircuitState.OPEN:
                return state  # a call begun before the circuit opened
            if state is CircuitState.HALF_OPEN:
                if outcome is Outcome.OK:
                    circuit.close()
                elif outcome is Outcome.FAILED:
                    circuit.open(now, circuit.cool_down_s * 2)
                else:
                    circuit.probe_until = None  # the probe learnt nothing: let another try
                return circuit.state(now)
            if outcome is Outcome.OK:
                circuit.consecutive_failures = 0
                circuit.recent.append(False)
            elif outcome is Outcome.FAILED:
                circuit.consecutive_failures += 1
                circuit.recent.append(True)
                if circuit.should_open():
                    circuit.open(now, self.policy.cool_down_s)
                    opened = self._view(circuit)
            after = circuit.state(now)
        if opened is not None:
            for listener in self.on_open:
                listener(provider, model, opened)
        return after

    def view(self, provider: str, model: str) -> CircuitView:
        with self._lock:
            return self._view(self._circuits.get((provider, model)) or _Circuit(self.policy))

    def views(self) -> dict[tuple[str, str], CircuitView]:
        """Every circuit that has seen a call, by (provider, model)."""
        with self._lock:
            return {key: self._view(circuit) for key, circuit in self._circuits.items()}

    def _view(self, circuit: _Circuit) -> CircuitView:
        now = self.clock()
        state = circuit.state(now)
        retry_in = None
        if state is CircuitState.OPEN and circuit.opened_at is not None:
            retry_in = circuit.opened_at + circuit.cool_down_s - now
        return CircuitView(
            state=state,
            consecutive_failures=circuit.consecutive_failures,
            recent_calls=len(circuit.recent),
            recent_failures=sum(circuit.recent),
            cool_down_s=circuit.cool_down_s,
            retry_in_s=retry_in,
            probe_in_flight=state is CircuitState.HALF_OPEN and circuit.probing(now),
            last_outcome=circuit.last_outcome,
            last_latency_ms=circuit.last_latency_ms,
            last_ttft_ms=circuit.last_ttft_ms,
        )

    def out_of_rotation(self, provider: str, model: str) -> CircuitOpen:
        """The error for a request none of whose models may be called now."""
        view = self.view(provider, model)
        when = (
            f"next probe in {view.retry_in_s:.0f} s"
            if view.retry_in_s is not None
            else "a probe is in flight"
        )
        return CircuitOpen(
            f"provider {provider!r} is out of rotation for model {model!r} after repeated "
            f"upstream failures, and so is every fallback; {when}"
        )
