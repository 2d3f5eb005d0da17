"""``examples/agent.py`` runs against a server started as ``make run`` starts it: ``thrifty
serve`` on the embedded defaults (built-in demo config, simulated provider, SQLite), with the
admin key it generates and the demo key it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from live_server import free_port
from thrifty.storage.database import Database
from thrifty.storage.schema import usage_records

EXAMPLE = Path(__file__).parents[2] / "examples" / "agent.py"


@dataclass
class Served:
    url: str
    admin_key: str
    demo_key: str
    database_url: str


def _environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("THRIFTY_", "OPENAI_"))}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    database_url = f"sqlite:///{tmp_path}/thrifty.db"
    env = _environment() | {"THRIFTY_PORT": str(port), "THRIFTY_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "thrifty.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = "".join(process.stdout.readline() for _ in range(3))
        admin = re.search(r"Admin API key \(generated for this run\): (\S+)", printed)
        demo = re.search(r"Demo API key for the gateway \(shown once\): (\S+)", printed)
        assert admin and demo, printed
        url = f"http://127.0.0.1:{port}"
        assert f"on {url}" in printed
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "thrifty serve did not start"
            time.sleep(0.1)
        yield Served(url, admin.group(1), demo.group(1), database_url)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def _run_example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _spent(output: str) -> Decimal:
    found = re.search(r"^spent (\S+) USD", output, flags=re.MULTILINE)
    assert found, output
    return Decimal(found.group(1))


@pytest.mark.slow
def test_the_example_agent_runs_against_make_run(served: Served) -> None:
    result = _run_example("--base-url", served.url, "--api-key", served.demo_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "budget demo-team-monthly (team:demo-team): 25" in result.stdout
    assert "summary:" in result.stdout and "0.002 USD on 2 web search(es)" in result.stdout
    spent = _spent(result.stdout)
    assert spent > Decimal("0.002")

    # The ledger agrees: one record of the searches, one per gateway call, all the agent's.
    database = Database(served.database_url)
    try:
        rows = database.read(lambda c: c.execute(usage_records.select()).all())
    finally:
        database.close()
    assert len(rows) == 3 and all("agent:scout" in r.tags for r in rows)
    assert sum(r.cost_nano for r in rows) == int(spent * 10**9)
    headers = {"Authorization": f"Bearer {served.admin_key}"}
    status = httpx.get(f"{served.url}/api/v1/budgets/demo-team-monthly/status", headers=headers)
    assert Decimal(status.json()["currentSpend"]) == spent


@pytest.mark.slow
def test_the_example_agent_issues_its_key_and_degrades(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.admin_key}"}
    with httpx.Client(base_url=served.url, headers=headers) as admin:
        first = _run_example("--base-url", served.url, "--admin-key", served.admin_key)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "issued an API key of demo-user" in first.stdout
        # Leave the demo budget 86 % used: past the require-approval threshold.
        spent = _spent(first.stdout)
        budget = admin.get("/api/v1/budgets/demo-team-monthly").json()
        body = {key: budget[key] for key in ("name", "scope", "period", "start_date", "mode")}
        limit = (spent / Decimal("0.86")).quantize(Decimal("0.000001"))
        assert admin.put(
            "/api/v1/budgets/demo-team-monthly", json=body | {"limit": str(limit)}
        ).is_success
        tight = _run_example("--base-url", served.url, "--admin-key", served.admin_key)
        assert tight.returncode == 0, tight.stdout + tight.stderr
        assert "research: skipped the searches (ApprovalRequired)" in tight.stdout
        assert _spent(tight.stdout) < Decimal("0.001")
        # Over the limit, the agent stops before spending anything.
        overspent = body | {"limit": str((spent / 2).quantize(Decimal("0.000001")))}
        assert admin.put("/api/v1/budgets/demo-team-monthly", json=overspent).is_success
        blocked = _run_example("--base-url", served.url, "--admin-key", served.admin_key)
        assert blocked.returncode == 0, blocked.stdout + blocked.stderr
        assert "stopping before spending anything" in blocked.stdout
        assert _spent(blocked.stdout) == 0
