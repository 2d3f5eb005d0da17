"""OpenTelemetry spans of upstream calls, after the GenAI semantic conventions.

The gateway records one ``CLIENT`` span per attempt, named ``chat {model}``, with
``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` and ``gen_ai.usage.output_tokens``,
plus ``thrifty.request_id``, ``thrifty.attempt``, ``thrifty.status`` and ``thrifty.cost_usd``
(an exact decimal string). It uses only the OpenTelemetry API: spans cost nothing and go
nowhere until the process has an SDK tracer provider (``opentelemetry-instrument thrifty
serve``, or an application's own set-up), which then exports them where it is configured to.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

_TRACER = trace.get_tracer("thrifty.gateway")


def record_call(
    *,
    request_id: str,
    attempt: str,
    provider: str,
    requested_model: str,
    response_model: str,
    input_tokens: int,
    output_tokens: int,
    status: str,
    cost_usd: str,
    elapsed_ms: int,
) -> None:
    """One finished upstream call as a span that started ``elapsed_ms`` ago."""
    end = time.time_ns()
    span = _TRACER.start_span(
        f"chat {requested_model}",
        kind=SpanKind.CLIENT,
        start_time=end - elapsed_ms * 1_000_000,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": requested_model,
            "gen_ai.response.model": response_model,
            "gen_ai.usage.input_tokens": input_tokens,
            "gen_ai.usage.output_tokens": output_tokens,
            "thrifty.request_id": request_id,
            "thrifty.attempt": attempt,
            "thrifty.status": status,
            "thrifty.cost_usd": cost_usd,
        },
    )
    if status != "ok":
        span.set_status(Status(StatusCode.ERROR, status))
    span.end(end_time=end)
