"""``thrifty rules test``: a request through the config's rules, the budgets of ``--as`` and
selection, without calling a model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from thrifty.cli import main

CONFIG = textwrap.dedent(
    """\
    providers:
      - {name: sim, kind: simulated}
    models:
      - {id: big, provider: sim, price: {input_per_mtok: 10, output_per_mtok: 30},
         context_window: 100000, quality: {default: 0.95}}
      - {id: small, provider: sim, price: {input_per_mtok: 0.1, output_per_mtok: 0.3},
         context_window: 100000, quality: {default: 0.80}}
    rules:
      - name: classify-cheaply
        when: [{type: task, task_type: classification}]
        then: [{type: select-model, strategy: cheapest}]
      - name: eng-only-big
        when: [{type: principal, team: eng}]
        then: [{type: route-to, model: big}]
    """
)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, str]:
    config, request = tmp_path / "thrifty.yaml", tmp_path / "req.json"
    config.write_text(CONFIG)
    message = {"role": "user", "content": "Classify the sentiment: great product"}
    request.write_text(json.dumps({"model": "big", "messages": [message]}))
    return config, request, f"sqlite:///{tmp_path / 'thrifty.db'}"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["rules", "test", *args])
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_matched_rules_trace_and_decision(
    files: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, request, database = files
    code, report = _run(
        capsys, "--config", str(config), "--request", str(request), "--database-url", database
    )
    assert code == 0
    assert report["matched"] == ["classify-cheaply"]
    assert report["selectedModel"] == "small"
    trace = {t["rule"]: t for t in report["directive"]["trace"]}
    assert trace["eng-only-big"]["matched"] is False
    assert "principal" in trace["eng-only-big"]["failed"]
    assert report["decision"]["profile"]["taskType"] == "classification"


def test_as_a_team_applies_its_rules(
    files: tuple[Path, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, request, database = files
    from thrifty.storage import directory_repo
    from thrifty.storage.database import Database

    db = Database(database)
    db.migrate()
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    db.write(lambda c: directory_repo.insert_org(c, org_id="acme", name="A", actor="t", now=now))
    db.write(
        lambda c: directory_repo.insert_team(
            c, team_id="eng", org_id="acme", name="E", actor="t", now=now
        )
    )
    db.close()
    args = ["--config", str(config), "--request", str(request), "--database-url", database]
    code, report = _run(capsys, *args, "--as", "team:eng")
    assert code == 0
    assert report["matched"] == ["classify-cheaply", "eng-only-big"]  # equal priority: file order
    assert report["selectedModel"] == "big"  # route-to wins: the model is fixed
    assert main(["rules", "test", *args, "--as", "team:nope"]) == 2
    assert "no team 'nope'" in capsys.readouterr().err


def test_bad_request_files(files: tuple[Path, Path, str], tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config, _request, database = files
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    base = ["rules", "test", "--config", str(config), "--database-url", database]
    assert main([*base, "--request", str(broken)]) == 2
    assert "not JSON" in capsys.readouterr().err
    broken.write_text('{"request": {"model": "big"}}')
    assert main([*base, "--request", str(broken)]) == 2
    assert "messages" in capsys.readouterr().err
    assert main([*base, "--request", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
