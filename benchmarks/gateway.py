"""Gateway benchmark: the same load sent directly to a fake upstream, through Thrifty (ledger
on: a hold, a settlement and a usage record per call) and through LiteLLM's proxy when it is
installed (no budgets: it needs a separate database to enforce them).

The fake upstream is ``thrifty simulate`` with no latency, errors or pacing. Each gateway runs
one worker. Loads: closed loop at concurrency 1 (added latency) and 50 (throughput), non-
streaming and streaming. Compare ratios: the machine is shared and has 2 cores.

    python benchmarks/gateway.py [--litellm PATH_TO_litellm] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from _harness import ADMIN_KEY, LoadResult, build_request, drive, free_port, thrifty_server

MODEL = "gpt-4o-mini"
LITELLM_KEY = "sk-thrifty-benchmark-master-key"
MESSAGES = [{"role": "user", "content": "Summarise the benefits of budgets in two sentences."}]


@contextmanager
def process(
    command: list[str], ready_url: str, env: dict[str, str] | None = None
) -> Iterator[None]:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command[0]} exited during start-up")
            try:
                httpx.get(ready_url, timeout=1)
                break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def provision(base: str) -> str:
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    for path, body in (
        ("/api/v1/orgs", {"id": "acme", "name": "Acme"}),
        ("/api/v1/teams", {"id": "eng", "org_id": "acme", "name": "Eng"}),
        ("/api/v1/users", {"id": "ann", "team_id": "eng", "name": "Ann"}),
    ):
        admin.post(path, json=body).raise_for_status()
    key = admin.post("/api/v1/keys", json={"user_id": "ann", "name": "bench"}).json()["secret"]
    for scope in ({"type": "team", "id": "eng"}, {"type": "organization", "id": "acme"}):
        budget = {
            "name": f"bench {scope['id']}",
            "scope": scope,
            "limit": "100000",
            "period": "monthly",
            "start_date": "2026-01-01",
            "mode": "hard",
        }
        admin.post("/api/v1/budgets", json=budget).raise_for_status()
    admin.close()
    time.sleep(1.2)
    return str(key)


async def measure(
    name: str, base: str, prefix: str, key: str, requests: int
) -> dict[str, LoadResult]:
    headers = {"Authorization": f"Bearer {key}"}
    plain = {"model": MODEL, "messages": MESSAGES, "max_tokens": 60}
    streamed = plain | {"stream": True, "stream_options": {"include_usage": True}}
    results = {}
    for label, body in (("", plain), (" stream", streamed)):
        raw = build_request(base, "POST", f"{prefix}/chat/completions", body, headers)
        for concurrency, count in ((1, requests // 4), (50, requests)):
            result = await drive(
                f"{name}{label}", base, raw, concurrency=concurrency, requests=count
            )
            results[f"{label.strip() or 'plain'} c={concurrency}"] = result
            print("  " + result.line(), flush=True)
    return results


def litellm_config(directory: str, upstream: str) -> str:
    path = Path(directory) / "litellm.yaml"
    path.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: bench\n"
    )
    return str(path)


def thrifty_config(directory: str, upstream: str) -> str:
    path = Path(directory) / "thrifty.yaml"
    path.write_text(
        "providers:\n"
        f"  - {{name: sim, kind: simulated, base_url: '{upstream}'}}\n"
        "models:\n"
        f"  - {{id: {MODEL}, provider: sim, catalog_id: openai/{MODEL}, context_window: 128000}}\n"
    )
    return str(path)


def report(all_results: dict[str, dict[str, LoadResult]]) -> None:
    print("\nsummary (throughput in requests/s per worker; added latency = p50 − direct p50):")
    for kind in ("plain", "stream"):
        direct = all_results["direct"]
        thrifty = all_results["thrifty"]
        added = statistics.median(thrifty[f"{kind} c=1"].latencies_ms) - statistics.median(
            direct[f"{kind} c=1"].latencies_ms
        )
        line = (
            f"  {kind:<6} thrifty {thrifty[f'{kind} c=50'].throughput:7.0f} req/s at c=50, "
            f"added p50 at c=1: {added:5.2f} ms"
        )
        if "litellm" in all_results:
            litellm = all_results["litellm"]
            ratio = thrifty[f"{kind} c=50"].throughput / litellm[f"{kind} c=50"].throughput
            added_litellm = statistics.median(
                litellm[f"{kind} c=1"].latencies_ms
            ) - statistics.median(direct[f"{kind} c=1"].latencies_ms)
            line += (
                f" | litellm {litellm[f'{kind} c=50'].throughput:7.0f} req/s, added p50 "
                f"{added_litellm:5.2f} ms | throughput ratio {ratio:.1f}x"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--litellm", default=os.environ.get("LITELLM") or shutil.which("litellm"))
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    simulate = [sys.executable, "-m", "thrifty.cli", "simulate", "--port", str(port)]
    simulate += ["--latency-ms", "0", "--error-rate", "0", "--tokens-per-second", "0"]
    results: dict[str, dict[str, LoadResult]] = {}
    with tempfile.TemporaryDirectory() as tmp, process(simulate, f"{upstream}/v1/models"):
        print("direct to the fake upstream:")
        results["direct"] = asyncio.run(measure("direct", upstream, "/v1", "bench", args.requests))
        os.environ["THRIFTY_CONFIG"] = thrifty_config(tmp, upstream)
        with thrifty_server() as base:
            key = provision(base)
            print("through thrifty (holds, settlement and usage records on):")
            results["thrifty"] = asyncio.run(measure("thrifty", base, "/v1", key, args.requests))
        if args.litellm:
            litellm_port = free_port()
            command = [args.litellm, "--config", litellm_config(tmp, upstream)]
            command += ["--port", str(litellm_port), "--num_workers", "1"]
            base = f"http://127.0.0.1:{litellm_port}"
            env = {**os.environ, "LITELLM_MASTER_KEY": LITELLM_KEY}
            with process(command, f"{base}/health/liveliness", env):
                print("through LiteLLM's proxy (no budgets):")
                results["litellm"] = asyncio.run(
                    measure("litellm", base, "/v1", LITELLM_KEY, args.requests)
                )
        else:
            print("LiteLLM is not installed (pip install 'litellm[proxy]'): skipped")
    report(results)


if __name__ == "__main__":
    main()
