"""``thrifty prompts analyze FILE``: where a prompt's tokens go and what rewrites would save.

FILE is a JSON chat request (``{"model", "messages", ...}``), a body of
``POST /api/v1/prompts/analyze`` (``{"request", "model"?}``), or any other file, read as the
text of one user message. Models and prices come from the config file (``--config``, else
``THRIFTY_CONFIG``, else the built-in demo), read in memory: nothing is written, no database
is opened, no model is called. The output is the endpoint's JSON (``--format json``) or tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from thrifty.api.prompts import AnalyzeBody, analyze
from thrifty.api.schemas import ChatRequestBody
from thrifty.config.loader import LoadedConfig, config_price_point, load_config, to_profile
from thrifty.errors import InvalidInput
from thrifty.pricing.prices import PricePoint
from thrifty.routing.registry import ModelRegistry
from thrifty.settings import Settings


def add_commands(commands: Any) -> None:
    """Register ``prompts analyze`` on the CLI's subparsers."""
    prompts = commands.add_parser("prompts", help="analyse prompts for wasted tokens")
    actions = prompts.add_subparsers(dest="prompts_command", required=True, metavar="ACTION")
    analyze_parser = actions.add_parser(
        "analyze", help="token count per part, waste found, and rewrites with what they save"
    )
    analyze_parser.add_argument(
        "file",
        metavar="FILE",
        help="a JSON chat request ({model, messages}) or a text file (one user message)",
    )
    analyze_parser.add_argument(
        "--model",
        help="model to count and price on (default: the request's model; for a text file "
        "required unless the config has a single model)",
    )
    analyze_parser.add_argument("--format", choices=["table", "json"], default="table")
    analyze_parser.add_argument(
        "--config", help="YAML config file (THRIFTY_CONFIG, default: built-in demo)"
    )
    analyze_parser.set_defaults(run=run_analyze)


def config_registry(loaded: LoadedConfig) -> ModelRegistry:
    """The config file's models and prices, as the gateway registers them at start."""
    prices: dict[str, list[PricePoint]] = {}
    for model in loaded.config.models:
        point = config_price_point(model)
        if point is not None:
            prices[model.id] = [point]
    profiles = [to_profile(m, loaded.provider(m.provider)) for m in loaded.config.models]
    return ModelRegistry.build(profiles, prices)


def read_body(path: str, model: str | None, loaded: LoadedConfig) -> AnalyzeBody:
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidInput(f"{path}: cannot read: {reason}", field="FILE") from None
    data: Any = None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if path.endswith(".json"):
            raise InvalidInput(f"{path}:{exc.lineno}: not JSON: {exc.msg}", field="FILE") from None
    if isinstance(data, dict) and ("messages" in data or "request" in data):
        return _validated(data if "request" in data else {"request": data}, path, model)
    if path.endswith(".json"):
        raise InvalidInput(
            f"{path}: a JSON file must be a chat request with model and messages", field="FILE"
        )
    return _text_body(text, model, loaded)


def _validated(data: dict[str, Any], path: str, model: str | None) -> AnalyzeBody:
    try:
        body = AnalyzeBody.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise InvalidInput(f"{path}: {where}: {first['msg']}", field=where) from None
    return body.model_copy(update={"model": model}) if model else body


def _text_body(text: str, model: str | None, loaded: LoadedConfig) -> AnalyzeBody:
    models = [m.id for m in loaded.config.models]
    if model is None and len(models) == 1:
        model = models[0]
    if model is None:
        raise InvalidInput(
            "--model: required for a text file (the config has the models "
            f"{', '.join(models) or 'none'})",
            field="--model",
        )
    request = ChatRequestBody.model_validate(
        {"model": model, "messages": [{"role": "user", "content": text}]}
    )
    return AnalyzeBody(request=request)


def run_analyze(args: argparse.Namespace) -> int:
    loaded = load_config(args.config or Settings.from_env().config)
    body = read_body(args.file, args.model, loaded)
    field = "--model" if args.model else "model"
    try:
        result = analyze(body, config_registry(loaded), datetime.now(UTC))
    except InvalidInput as exc:
        if exc.field in ("model", "request.model"):
            raise InvalidInput(f"{field}: {exc.message}", field=field) from None
        raise
    if args.format == "json":
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print_tables(result, Console())
    return 0


def print_tables(result: dict[str, Any], console: Console) -> None:
    exact = "exact" if result["exactTokens"] else "approximate"
    console.print(
        f"{result['model']}: {result['totalTokens']} prompt tokens ({exact}, "
        f"{result['encoding']}), {result['costPerCall']} USD per call, "
        f"efficiency score {result['efficiencyScore']}/100",
        markup=False,
        soft_wrap=True,
    )
    parts = Table(title="Tokens per part")
    parts.add_column("part")
    parts.add_column("tokens", justify="right")
    parts.add_column("share", justify="right")
    for part in result["parts"]:
        parts.add_row(part["part"], str(part["tokens"]), f"{part['share']:.1%}")
    console.print(parts)
    if result["findings"]:
        findings = Table(title="Findings")
        for name in ("kind", "where", "tokens", "what", "excerpt"):
            findings.add_column(name, justify="right" if name == "tokens" else "left")
        for f in result["findings"]:
            findings.add_row(f["kind"], f["location"], str(f["tokens"]), f["message"], f["excerpt"])
        console.print(findings)
    rewrites = [*result["rewrites"], *filter(None, [result["combinedRewrite"]])]
    if not rewrites:
        console.print("No rewrite saves tokens.")
        return
    table = Table(title="Rewrites (--format json shows the rewritten messages)")
    for name in ("rewrite", "safe", "tokens saved", "USD saved per call", "what"):
        table.add_column(name, justify="right" if "saved" in name else "left")
    for r in rewrites:
        table.add_row(
            r["kind"],
            "yes" if r["safe"] else "no",
            str(r["tokensSaved"]),
            r["costSavedPerCall"],
            r["description"],
        )
    console.print(table)
