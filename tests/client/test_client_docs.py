"""docs/client.md cannot drift from the client: every public name and method is documented,
``AsyncClient`` mirrors ``Client`` method for method, and the example's options are listed."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import thrifty.client
from thrifty.client import AsyncClient, Client, Operation

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "client.md").read_text("utf-8")


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if callable(member) and not name.startswith("_") and name not in ("close", "aclose")
    }


@pytest.mark.parametrize("name", sorted(thrifty.client.__all__))
def test_every_public_name_is_documented(name: str) -> None:
    assert f"`{name}" in DOC, f"{name} is missing from docs/client.md"


def _parameter_names(signature: inspect.Signature) -> list[str]:
    """``self`` left out, ``*`` before the first keyword-only parameter (as the docs write)."""
    names: list[str] = []
    for parameter in list(signature.parameters.values())[1:]:
        if parameter.kind is parameter.KEYWORD_ONLY and "*" not in names:
            names.append("*")
        names.append(parameter.name)
    return names


@pytest.mark.parametrize("name", sorted(_public(Client)))
def test_every_method_is_documented_with_its_signature(name: str) -> None:
    shown = re.search(rf"^\| `{name}\((.*?)\)` \|", DOC, flags=re.MULTILINE)
    assert shown, f"Client.{name} is missing from the methods table of docs/client.md"
    documented = [p.strip().split("=")[0] for p in shown.group(1).split(",") if p.strip()]
    assert documented == _parameter_names(_public(Client)[name])


def test_the_async_client_mirrors_the_sync_one() -> None:
    sync, async_ = _public(Client), _public(AsyncClient)
    assert set(sync) == set(async_)
    for name, signature in sync.items():
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)) is (name != "operation")
        assert str(async_[name]).replace("AsyncOperationContext", "OperationContext") == str(
            signature
        ), name


def test_operation_methods_are_documented() -> None:
    for name in ("add_cost", "add_usage", "headers", "recorded", "settlement", "voided"):
        assert f"op.{name}" in DOC or f"`{name}`" in DOC, name
    assert callable(Operation.add_cost)


def test_the_examples_options_are_documented() -> None:
    source = (ROOT / "examples" / "agent.py").read_text("utf-8")
    for flag in re.findall(r'add_argument\(\s*"(--[a-z-]+)"', source):
        assert f"`{flag}`" in DOC, f"examples/agent.py {flag} is missing from docs/client.md"
