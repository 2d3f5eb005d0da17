"""The histograms one process observes (``GET /metrics`` serves them with the database's
figures): upstream latency by provider and model, and decision time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
_DECISION_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)


class ProcessMetrics:
    """The histograms one process observes, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.upstream_latency = Histogram(
            "thrifty_upstream_latency_seconds",
            "Upstream call duration, from sending the request to the last byte",
            ["provider", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decision_time = Histogram(
            "thrifty_decision_seconds",
            "Time to steer one request: analysis, rules, budget restrictions and selection",
            buckets=_DECISION_BUCKETS,
            registry=self.registry,
        )
