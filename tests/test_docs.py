"""The docs cannot drift: every route, CLI command, config key and setting is in README.md,
and the README's config example is a valid config."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from thrifty.cli import build_parser
from thrifty.config.loader import parse_config
from thrifty.config.schema import config_keys
from thrifty.settings import ENVIRONMENT, Settings

README = (Path(__file__).parents[1] / "README.md").read_text("utf-8")


def _routes() -> list[tuple[str, str]]:
    from thrifty.app import create_app

    app = create_app(Settings(admin_key="x", database_url="sqlite:///:memory:"))
    paths = app.openapi()["paths"]
    found = [(method.upper(), path) for path, item in paths.items() for method in item]
    assert len(found) >= 10
    return found


@pytest.mark.parametrize(("method", "path"), _routes())
def test_every_route_is_documented(method: str, path: str) -> None:
    assert f"`{method} {path}" in README, f"{method} {path} is missing from README.md"


def test_every_cli_command_is_documented() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    for name, sub in commands.choices.items():  # type: ignore[union-attr]
        assert f"`thrifty {name}" in README, f"thrifty {name} is missing from README.md"
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in README, f"thrifty {name} {flag} is missing from README.md"


@pytest.mark.parametrize(
    ("section", "key"),
    [(section, key) for section, keys in config_keys().items() for key in keys],
)
def test_every_config_key_is_documented(section: str, key: str) -> None:
    assert f"`{key}`" in README, f"config key {section}.{key} is missing from README.md"


@pytest.mark.parametrize("variable", sorted(ENVIRONMENT))
def test_every_environment_variable_is_documented(variable: str) -> None:
    assert f"`{variable}`" in README


def test_readme_config_example_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "README.md should show a config example"
    for block in blocks:
        parse_config(block, "README.md")


def test_quick_start_is_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    assert block.group(1).split("\n")[:2] == ["make run", "make test"]
    assert block.group(1).strip().count("\n") == 1


def test_every_gateway_route_is_documented() -> None:
    from thrifty.gateway.routes import ROUTES

    for route in ROUTES:
        for method in sorted(route.methods - {"HEAD"}):
            assert f"`{method} {route.path}`" in README, f"{method} {route.path} not in README"


def test_every_gateway_header_is_documented() -> None:
    import inspect

    from thrifty.gateway import http

    for header in set(re.findall(r'"(x-thrifty-[a-z-]+)"', inspect.getsource(http))):
        assert f"`{header}`" in README, f"{header} is missing from README.md"
