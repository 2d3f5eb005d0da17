"""The ``thrifty`` command line. Every command is listed in README.md (a test checks)."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import replace

from thrifty import __version__
from thrifty.errors import ThriftyError


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from thrifty.app import prepare_database, utc_now
    from thrifty.config.loader import load_config
    from thrifty.settings import Settings
    from thrifty.storage.database import Database

    settings = Settings.from_env()
    overrides = {
        key: value
        for key, value in {
            "host": args.host,
            "port": args.port,
            "workers": args.workers,
            "config": args.config,
            "database_url": args.database_url,
        }.items()
        if value is not None
    }
    settings = replace(settings, **overrides)
    loaded = load_config(settings.config)
    if not settings.admin_key:
        settings = replace(settings, admin_key="thr_admin_" + secrets.token_urlsafe(24))
        print(f"Admin API key (generated for this run): {settings.admin_key}", flush=True)
    database = Database(settings.database_url)
    try:
        prepare_database(database, loaded, utc_now())
        if loaded.source == "demo":
            from thrifty.demo import provision_demo

            demo_key = provision_demo(database, utc_now())
            if demo_key:
                print(f"Demo API key for the gateway (shown once): {demo_key}", flush=True)
    finally:
        database.close()
    os.environ.update(settings.to_env())
    source = "built-in demo" if loaded.source == "demo" else loaded.source
    print(
        f"Thrifty {__version__} on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker(s), config: {source}, models: {len(loaded.config.models)})",
        flush=True,
    )
    uvicorn.run(
        "thrifty.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    return 0


def _estimate(args: argparse.Namespace) -> int:
    from thrifty.commands.estimate import run_estimate

    return run_estimate(args)


def _check_config(args: argparse.Namespace) -> int:
    from thrifty.config.loader import load_config

    loaded = load_config(args.config)
    print(
        f"{loaded.source}: OK ({len(loaded.config.providers)} providers, "
        f"{len(loaded.config.models)} models, {len(loaded.config.rules)} rules)"
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from thrifty.settings import Settings
    from thrifty.storage.database import Database

    database = Database(args.database_url or Settings.from_env().database_url)
    try:
        database.migrate()
    finally:
        database.close()
    print("database schema is up to date")
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import uvicorn

    from thrifty.providers.simulated import SimulatorSettings, create_simulator

    settings = SimulatorSettings(
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        tokens_per_second=args.tokens_per_second,
        seed=args.seed,
    )
    print(
        f"Simulated provider on http://{args.host}:{args.port}/v1 (OpenAI and Anthropic APIs; "
        f"latency {settings.latency_ms:g} ms, error rate {settings.error_rate:g}, "
        f"{settings.tokens_per_second:g} tokens/s, seed {settings.seed})",
        flush=True,
    )
    uvicorn.run(
        create_simulator(settings),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="thrifty", description="Cost-aware LLM gateway.")
    parser.add_argument("--version", action="version", version=f"thrifty {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="start the gateway and admin API")
    serve.add_argument("--host", help="address to listen on (THRIFTY_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (THRIFTY_PORT, default 8787)")
    serve.add_argument("--workers", type=int, help="worker processes (THRIFTY_WORKERS, default 1)")
    serve.add_argument("--config", help="YAML config file (THRIFTY_CONFIG, default: built-in demo)")
    serve.add_argument("--database-url", help="database URL (THRIFTY_DATABASE_URL)")
    serve.set_defaults(run=_serve)

    estimate = commands.add_parser("estimate", help="estimate the cost of requests in a JSONL file")
    estimate.add_argument("--input", required=True, help="JSONL file, one chat request a line")
    estimate.add_argument("--alternatives", default="", help="comma-separated model ids to compare")
    estimate.add_argument("--config", help="YAML config file (THRIFTY_CONFIG)")
    estimate.add_argument("--database-url", help="database URL (THRIFTY_DATABASE_URL)")
    estimate.add_argument("--format", choices=["table", "json"], default="table")
    estimate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    estimate.set_defaults(run=_estimate)

    check = commands.add_parser("check-config", help="validate a config file and exit")
    check.add_argument("config", nargs="?", help="YAML config file (default: built-in demo)")
    check.set_defaults(run=_check_config)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--database-url", help="database URL (THRIFTY_DATABASE_URL)")
    migrate.set_defaults(run=_migrate)

    simulate = commands.add_parser("simulate", help="serve the simulated OpenAI/Anthropic upstream")
    simulate.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    simulate.add_argument("--port", type=int, default=9000, help="port (default 9000)")
    simulate.add_argument("--latency-ms", type=float, default=20.0, help="delay before answering")
    simulate.add_argument("--error-rate", type=float, default=0.05, help="share of 429/500/503")
    simulate.add_argument(
        "--tokens-per-second", type=float, default=80.0, help="streaming pace (0: unpaced)"
    )
    simulate.add_argument("--seed", type=int, default=0, help="seed of texts and random errors")
    simulate.set_defaults(run=_simulate)

    from thrifty.commands import anomalies, export, forecast, prompts, reconcile, router, rules

    rules.add_commands(commands)
    router.add_commands(commands)
    forecast.add_commands(commands)
    prompts.add_commands(commands)
    anomalies.add_commands(commands)
    export.add_commands(commands)
    reconcile.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ThriftyError as exc:
        print(f"thrifty: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
