"""``/decisions``: the gateway's recent model selections, a search by request id, and one
decision's explanation (``/decisions/{decision_id}``) — the request's profile, the rules that
applied, the budget impact, the quality requirement, the chain and every candidate with its
scores and why it lost.

Everything comes from the explainer API, which shows a key the decisions of what it may see
and answers "not found" for the others (so a key cannot tell that a decision exists)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from thrifty.ui.api import ApiError
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import render
from thrifty.ui.session import Viewer

router = page_router()
LIMITS = (25, 50, 100, 200, 500)
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class CandidateRow:
    """One candidate of a decision as the table shows it: the winner, or an alternative."""

    model: str
    winner: bool
    eligible: bool
    reason: str  # why it won, or why it lost
    estimated_cost: str | None
    cost_difference: str | None  # its expected cost minus the winner's (USD string)
    quality: float | None
    quality_difference: float | None
    scores: dict[str, float] | None


def candidate_rows(decision: dict[str, Any]) -> list[CandidateRow]:
    """The winner (when one won) followed by every alternative, in the explainer's order."""
    rows = []
    winner = decision.get("selectedModel")
    if winner is not None and decision.get("reason"):
        rows.append(
            CandidateRow(
                model=winner, winner=True, eligible=True, reason=decision["reason"],
                estimated_cost=decision.get("estimatedCost"), cost_difference="0",
                quality=decision.get("quality"), quality_difference=0.0,
                scores=decision.get("scores"),
            )
        )  # fmt: skip
    for other in decision.get("alternatives") or []:
        rows.append(
            CandidateRow(
                model=other["model"], winner=False, eligible=bool(other.get("eligible")),
                reason=other.get("reason") or "", estimated_cost=other.get("estimatedCost"),
                cost_difference=other.get("costDifference"), quality=other.get("quality"),
                quality_difference=other.get("qualityDifference"), scores=other.get("scores"),
            )
        )  # fmt: skip
    return rows


#: The fields of a rules directive that say something, with how the page names them.
DIRECTIVE_FIELDS = (
    ("strategy", "strategy"),
    ("candidates", "candidates"),
    ("qualityRequirement", "quality requirement"),
    ("costLimit", "cost limit (USD)"),
    ("budgetScope", "budget scope"),
    ("routeTo", "route to"),
    ("maxTokens", "max tokens"),
    ("requireApproval", "require approval"),
    ("deny", "deny"),
    ("tags", "tags"),
)


def directive_settings(directive: dict[str, Any]) -> list[str]:
    """What the matched rules set, in words: ``["strategy cheapest", "tags batch, nightly"]``."""
    said = []
    for key, label in DIRECTIVE_FIELDS:
        value = directive.get(key)
        if value is None or value == [] or value == "":
            continue
        text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        said.append(f"{label} {text}")
    if directive.get("fallbackChain") is False:
        said.append("no fallbacks")
    return said


def _limit(text: str | None) -> int:
    try:
        return max(1, min(int(text or DEFAULT_LIMIT), LIMITS[-1]))
    except ValueError:
        return DEFAULT_LIMIT


def _explanation(
    request: Request, viewer: Viewer, decision: dict[str, Any], request_id: str = ""
) -> HTMLResponse:
    return render(
        request, viewer, "decisions_explanation.html",
        title=f"Decision {decision.get('requestId') or decision.get('id')}", decision=decision,
        candidates=candidate_rows(decision), request_id=request_id, missing=None, errors={},
        settings=directive_settings(decision.get("rules") or {}),
    )  # fmt: skip


@router.get("/decisions", response_class=HTMLResponse)
async def decisions_page(
    request: Request,
    viewer: ViewerDep,
    request_id: str = "",
    model: str = "",
    limit: str | None = None,
) -> HTMLResponse:
    """The recent decisions; with ``request_id``, that request's explanation instead."""
    request_id, model, shown = request_id.strip(), model.strip(), _limit(limit)
    missing, errors, status = None, {}, 200
    async with api_for(request, viewer) as api:
        if request_id:
            try:
                found = await api.get(f"/explainer/request/{quote(request_id, safe='')}")
            except ApiError as error:
                if error.status == 404:
                    missing, status = request_id, 404
                else:
                    errors, status = {"request_id": error.message}, error.status
            else:
                return _explanation(request, viewer, found, request_id)
        recent, registry = await api.gather(
            api.get("/explainer/recent", limit=shown, model=model or None),
            api.optional(api.get("/models"), {"models": []}),  # the admin key's
        )
    listed = recent["decisions"]
    chosen = {d["selectedModel"] for d in listed if d.get("selectedModel")}
    known = sorted(chosen | {m["id"] for m in registry["models"]})
    return render(
        request, viewer, "decisions.html", status_code=status, title="Decisions",
        decisions=listed, request_id=request_id, model=model, limit=shown, limits=LIMITS,
        known_models=known, missing=missing, errors=errors,
    )  # fmt: skip


@router.get("/decisions/{decision_id}", response_class=HTMLResponse)
async def decision_page(request: Request, viewer: ViewerDep, decision_id: str) -> HTMLResponse:
    async with api_for(request, viewer) as api:
        try:
            decision = await api.get(f"/explainer/{quote(decision_id, safe='')}")
        except ApiError as error:
            if error.status != 404:
                raise
            return render(
                request, viewer, "decisions_explanation.html", status_code=404,
                title="Decision not found", decision=None, candidates=[], settings=[],
                request_id="", missing=decision_id, errors={},
            )  # fmt: skip
    return _explanation(request, viewer, decision)
