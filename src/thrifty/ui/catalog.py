"""``/models``: the model registry — each model's provider, the price in force, context window,
capabilities, quality per task type and fallback chain.

The registry's API (``GET /api/v1/models``) is the admin key's; another key is shown the API's
refusal. The fallback chains come from ``GET /api/v1/models/fallbacks/{id}``, which also says
whether each fallback is registered and allowed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from thrifty.ui.api import ApiError
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import render

router = page_router()
DEFAULT_TASK = "default"
#: The quality a model has for a task type nobody scored (``ModelProfile.quality_for``).
UNSCORED_QUALITY = 0.5


@dataclass(frozen=True)
class QualityCell:
    value: float
    inherited: bool  # the model's default (or the unscored 0.5), not a score for this task


def task_types(models: list[dict[str, Any]]) -> list[str]:
    """Every task type some model is scored on, ``default`` first."""
    named = {task for m in models for task in m.get("quality") or {}}
    return [DEFAULT_TASK, *sorted(named - {DEFAULT_TASK})]


def quality_row(model: dict[str, Any], tasks: list[str]) -> list[QualityCell]:
    """The model's quality for each task type, as selection reads it: its score for the task,
    else its default, else 0.5."""
    scored = model.get("quality") or {}
    fallback = scored.get(DEFAULT_TASK, UNSCORED_QUALITY)
    return [
        QualityCell(scored[task], False) if task in scored else QualityCell(fallback, True)
        for task in tasks
    ]


@router.get("/models", response_class=HTMLResponse)
async def models_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    async with api_for(request, viewer) as api:
        try:
            listed = (await api.get("/models"))["models"]
        except ApiError as error:
            if error.status not in (401, 403):
                raise
            return render(request, viewer, "models.html", status_code=error.status,
                          title="Models", refused=error.message, models=[], tasks=[],
                          quality={}, chains={})  # fmt: skip
        with_fallbacks = [m["id"] for m in listed if m.get("fallbacks")]
        answers = await api.gather(
            *(
                api.optional(api.get(f"/models/fallbacks/{quote(model_id, safe='')}"), {})
                for model_id in with_fallbacks
            )
        )
    models = sorted(listed, key=lambda m: (m["provider"], m["id"]))
    tasks = task_types(models)
    return render(
        request, viewer, "models.html", title="Models", refused=None, models=models,
        tasks=tasks, quality={m["id"]: quality_row(m, tasks) for m in models},
        chains={m: a.get("fallbacks", []) for m, a in zip(with_fallbacks, answers, strict=True)},
    )  # fmt: skip
