"""Steering rules over the API: read, replace the stored ones, reload, and the rule tester.

The rules in effect are the config file's ``rules`` followed by the stored ones
(``PUT /api/v1/rules`` replaces the stored ones; the file's change only with the file). The
tester runs a request through analysis, the rules (those in effect, or a list sent with the
request), the budgets of the chain and selection, and calls no upstream.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from thrifty.api.auth import CallerDep
from thrifty.api.responses import FastJSONResponse
from thrifty.api.selection import SelectBody, run_steering
from thrifty.api.state import AppState, require_admin
from thrifty.gateway.rulebook import RuleBook
from thrifty.gateway.steering import RuleRefusal
from thrifty.rules import RuleSet
from thrifty.storage import selection_repo

router = APIRouter(prefix="/api/v1", tags=["rules"])
Admin = Annotated[AppState, Depends(require_admin)]


def _book(request: Request) -> RuleBook:
    book: RuleBook = request.app.state.rules
    return book


def rules_json(book: RuleBook) -> dict[str, Any]:
    rules = book.get()
    stored = {rule["name"] for rule in book.stored_rules}
    return {
        "rules": [
            {**rule, "source": "api" if rule["name"] in stored else "config"}
            for rule in rules.json()
        ],
        "configFile": book.config_path,
        "lastError": book.last_error,
    }


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: Annotated[list[dict[str, Any]], Field(max_length=1000)]


@router.get("/rules", summary="The steering rules in effect, in evaluation order")
async def get_rules(request: Request, caller: CallerDep) -> FastJSONResponse:
    return FastJSONResponse(rules_json(_book(request)))


@router.put("/rules", summary="Replace the rules stored through the API")
async def put_rules(body: RulesBody, request: Request, state: Admin) -> FastJSONResponse:
    book = _book(request)
    registry = state.registry.get()
    # Validate against the config file's rules and the models registered now.
    RuleSet.parse([*book.config_rules, *body.rules], known_models=set(registry.profiles))
    now = state.now()
    await state.database.awrite(
        lambda conn: selection_repo.save_stored_rules(conn, body.rules, now)
    )
    await anyio.to_thread.run_sync(lambda: book.refresh(force=True))
    return FastJSONResponse(rules_json(book))


@router.post("/rules/reload", summary="Re-read the config file's rules and the stored ones")
async def reload_rules(request: Request, state: Admin) -> FastJSONResponse:
    book = _book(request)
    await anyio.to_thread.run_sync(lambda: book.refresh(force=True))
    return FastJSONResponse(rules_json(book))


class RuleTestBody(SelectBody):
    rules: Annotated[list[dict[str, Any]], Field(max_length=1000)] | None = None
    """Rules to test instead of those in effect."""


@router.post("/rules/test", summary="Try a request against the rules; no upstream is called")
async def test_rules(body: RuleTestBody, request: Request, caller: CallerDep) -> FastJSONResponse:
    rules = None
    if body.rules is not None:
        rules = RuleSet.parse(body.rules, known_models=set(caller.state.registry.get().profiles))
    try:
        steered = await run_steering(request, caller, body, rules)
    except RuleRefusal as refusal:
        directive = refusal.directive.json()
        return FastJSONResponse(
            {
                "matched": list(refusal.directive.matched),
                "trace": directive.get("trace", []),
                "directive": directive,
                "selectedModel": None,
                "refused": refusal.message,
            }
        )
    explanation = dict(steered.record.body)
    explanation.pop("decisionId", None)
    directive = steered.directive.json()
    return FastJSONResponse(
        {
            "matched": list(steered.directive.matched),
            "trace": directive.get("trace", []),
            "directive": directive,
            "selectedModel": steered.chain[0],
            "decision": explanation,
        }
    )
