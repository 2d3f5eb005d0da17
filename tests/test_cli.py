"""The command line: estimate, check-config, migrate, and serve as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from thrifty.cli import main


def _write_requests(path: Path) -> None:
    lines = [
        json.dumps(
            {
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": f"q{i}"}],
                "max_tokens": 50,
            }
        )
        for i in range(4)
    ]
    lines.append("")
    path.write_text("\n".join(lines))


def test_estimate_prints_totals_per_model(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "requests.jsonl"
    _write_requests(requests)
    code = main(
        [
            "estimate",
            "--input",
            str(requests),
            "--alternatives",
            "gpt-4o-mini",
            "--database-url",
            database_url,
            "--format",
            "json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["totals"]["gpt-4o"]["requests"] == 4
    assert result["totals"]["gpt-4o-mini"]["requests"] == 4
    per_request = [Decimal(r["estimatedCost"]) for r in result["results"]]
    assert Decimal(result["totals"]["gpt-4o"]["estimatedCost"]) == sum(per_request)


def test_estimate_table_and_bad_lines(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    requests = tmp_path / "requests.jsonl"
    _write_requests(requests)
    with requests.open("a") as f:
        f.write('{"model": "gpt-4o", "messages": [], "max_tokens": 5}\n{broken\n')
    code = main(["estimate", "--input", str(requests), "--database-url", database_url])
    captured = capsys.readouterr()
    assert code == 1
    assert "gpt-4o" in captured.out and "estimated cost" in captured.out
    assert f"{requests}:5: messages: List should have at least 1 item" in captured.err
    assert f"{requests}:6: line: Invalid JSON" in captured.err


def test_estimate_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "estimate",
            "--input",
            str(tmp_path / "absent.jsonl"),
            "--database-url",
            f"sqlite:///{tmp_path}/x.db",
        ]
    )
    assert code == 2
    assert "cannot read" in capsys.readouterr().err


def test_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  - name: x\n    kind: simulated\n    colour: red\n")
    assert main(["check-config", str(bad)]) == 2
    assert f"{bad}:4: providers[0].colour: unknown key 'colour'" in capsys.readouterr().err


def test_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database-url", f"sqlite:///{tmp_path}/m.db"]) == 0
    assert (tmp_path / "m.db").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_generates_an_admin_key_and_runs_two_workers(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THRIFTY_")}
    env["THRIFTY_DATABASE_URL"] = f"sqlite:///{tmp_path}/serve.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "thrifty.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        key = re.search(r"Admin API key \(generated for this run\): (\S+)", first)
        assert key, first
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        assert httpx.get(f"{base}/api/v1/models", headers=headers).status_code == 200
        assert (
            httpx.get(f"{base}/api/v1/models", headers={"Authorization": "Bearer x"}).status_code
            == 401
        )
        # A model registered through one worker is seen by every worker within a second or so.
        body = {
            "id": "shared",
            "provider": "simulated",
            "price": {"input_per_mtok": "1", "output_per_mtok": "2"},
            "context_window": 1000,
        }
        assert httpx.post(f"{base}/api/v1/models", json=body, headers=headers).status_code == 201
        time.sleep(1.5)
        for _ in range(10):  # new connections land on either worker
            assert httpx.get(f"{base}/api/v1/models/shared", headers=headers).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - id: x\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THRIFTY_")}
    result = subprocess.run(
        [sys.executable, "-m", "thrifty.cli", "serve", "--config", str(bad)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{bad}:2: models[0].provider: Field required" in result.stderr
    assert "Traceback" not in result.stderr
