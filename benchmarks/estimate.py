"""Benchmark of ``POST /api/v1/cost/estimate`` for a 1,000-token request.

Starts a real ``thrifty serve`` (one worker, SQLite) and drives it over keep-alive HTTP at
several concurrencies. The baseline in the same run is ``GET /healthz`` (the HTTP stack, auth-
less, one trivial database read), so the estimate's own cost shows as the difference. It also
times the pure estimate (tokens + prediction + price) in process.

    python benchmarks/estimate.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from datetime import UTC, datetime

from _harness import ADMIN_KEY, build_request, drive, thrifty_server
from thrifty.config.loader import load_config, to_profile
from thrifty.pricing.estimate import PricedRequest
from thrifty.pricing.prices import PricePoint
from thrifty.pricing.tokens import count_chat
from thrifty.routing.estimates import estimate_across
from thrifty.routing.registry import ModelRegistry

PARAGRAPH = (
    "The quarterly report shows that infrastructure spend grew faster than revenue, driven "
    "mostly by inference traffic from the support assistant and the code review bot. "
)


def thousand_token_request(variant: int = 0) -> dict[str, object]:
    """About 1,000 tokens; each ``variant`` differs in its first words, so no count of an
    earlier request is reused (the gateway remembers the encoded length of a text)."""
    messages = [{"role": "system", "content": "You are a precise financial analyst."}]
    text = f"Report {variant}. " + _body_text()
    messages.append({"role": "user", "content": text + "Summarise the drivers in 5 bullets."})
    return {"model": "gpt-4o", "messages": messages, "max_tokens": 400}


@functools.cache
def _body_text() -> str:
    text = PARAGRAPH
    system = {"role": "system", "content": "You are a precise financial analyst."}
    while count_chat([system, {"role": "user", "content": text}], "gpt-4o").tokens < 1000:
        text += PARAGRAPH
    return text


def in_process(request: dict[str, object], rounds: int = 2000) -> list[float]:
    loaded = load_config(None)
    profiles = [to_profile(m, loaded.provider(m.provider)) for m in loaded.config.models]
    registry = ModelRegistry.build(profiles, dict[str, list[PricePoint]]())
    now = datetime.now(UTC)
    timings = []
    for i in range(rounds):
        messages = thousand_token_request(i + 1)["messages"]
        priced = PricedRequest(messages=messages, max_tokens=400)  # type: ignore[arg-type]
        start = time.perf_counter()
        estimate_across(priced, ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"], registry, now)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


async def main(requests: int) -> None:
    request = thousand_token_request()
    tokens = count_chat(request["messages"], "gpt-4o").tokens  # type: ignore[arg-type]
    print(f"request: {tokens} input tokens (o200k_base, with chat overhead), max_tokens 400")

    timings = sorted(in_process(request))
    print(
        f"in process, 3 models:        p50 {statistics.median(timings):.3f} ms   "
        f"p99 {timings[int(0.99 * len(timings))]:.3f} ms"
    )

    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    bodies = [
        {"request": thousand_token_request(i), "alternatives": ["gpt-4o-mini", "claude-haiku-4-5"]}
        for i in range(requests + 200)
    ]
    with thrifty_server() as base:
        health = build_request(base, "GET", "/healthz")
        # Distinct requests: every estimate counts its tokens afresh.
        estimate = [
            build_request(base, "POST", "/api/v1/cost/estimate", body, headers) for body in bodies
        ]
        print("capacity (closed loop):")
        capacity = {}
        for concurrency in (1, 16):
            for name, raw in (
                ("baseline GET /healthz", health),
                ("POST /api/v1/cost/estimate", estimate),
            ):
                result = await drive(name, base, raw, concurrency=concurrency, requests=requests)
                capacity[name, concurrency] = result.throughput
                print("  " + result.line())
        ratio = capacity["POST /api/v1/cost/estimate", 16] / capacity["baseline GET /healthz", 16]
        print(f"  estimate/baseline throughput at c=16: {ratio:.2f}x")
        peak = capacity["POST /api/v1/cost/estimate", 16]
        print("latency under concurrent load (open loop, 32 connections):")
        for share in (0.25, 0.5, 0.75):
            rate = share * peak
            for name, raw in (
                ("baseline GET /healthz", health),
                ("POST /api/v1/cost/estimate", estimate),
            ):
                result = await drive(
                    f"{name} @{rate:.0f}/s", base, raw, concurrency=32, requests=requests, rate=rate
                )
                print("  " + result.line())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    asyncio.run(main(parser.parse_args().requests))
