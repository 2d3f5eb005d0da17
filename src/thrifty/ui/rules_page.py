"""``/rules``: the steering rules in effect (with the last reload's error, if any) and the rule
tester — a request, and optionally rules to try instead of those in effect, sent to
``POST /api/v1/rules/test``; the page shows which rules matched, each rule's trace and the
resulting decision. Any key may test (for its own chain; the admin key for none, or for the
user it names). Changing the rules (``PUT /api/v1/rules``) is the admin API's, not this page's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import HTMLResponse

from thrifty.api.state import app_state
from thrifty.ui.api import ApiError, DashboardApi
from thrifty.ui.decisions import candidate_rows, directive_settings
from thrifty.ui.forms import Form, field_errors, read_form
from thrifty.ui.pages import ViewerDep, api_for, page_router
from thrifty.ui.render import render
from thrifty.ui.session import Viewer

router = page_router()
AUTO = "auto"
FIELDS = ("model", "message", "max_tokens", "quality", "priority", "tags", "metadata", "rules",
          "as_user")  # fmt: skip
PRIORITIES = ("critical", "normal", "non-essential")
MAX_RULES_TEXT = 200_000  # characters of rules the tester reads
#: The API's ``param`` (a prefix of it) → the tester's field that holds it.
PARAM_FIELDS = (
    ("request.model", "model"),
    ("request.messages", "message"),
    ("request.max_tokens", "max_tokens"),
    ("request.max_completion_tokens", "max_tokens"),
    ("x-thrifty-quality", "quality"),
    ("principal", "as_user"),
)
EXAMPLE_RULES = """\
- name: code-goes-cheap
  when:
    - {type: task, task_type: code}
  then:
    - {type: select-model, strategy: cheapest}
"""


class InputProblem(Exception):
    """A field the page cannot even send (JSON or YAML that does not parse)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name
        self.message = message


@dataclass
class TesterForm:
    """The tester's values as typed (re-shown after a test)."""

    model: str = AUTO
    message: str = ""
    max_tokens: str = ""
    quality: str = ""
    priority: str = ""
    tags: str = ""
    metadata: str = ""
    rules: str = ""
    as_user: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_post(cls, form: Form) -> TesterForm:
        return cls(
            model=form.get("model") or AUTO, message=form.get("message"),
            max_tokens=form.get("max_tokens"), quality=form.get("quality"),
            priority=form.get("priority"), tags=form.get("tags"), metadata=form.get("metadata"),
            rules=form.get("rules"), as_user=form.get("as_user"),
        )  # fmt: skip


def parse_rules(text: str) -> Any:
    """Rules as JSON or YAML: a list of rules, or a mapping with a ``rules`` list."""
    if len(text) > MAX_RULES_TEXT:
        raise InputProblem("rules", f"rules: at most {MAX_RULES_TEXT:,} characters")
    try:
        # No aliases: a few of them can expand into gigabytes of rules.
        alias = next((t for t in yaml.scan(text) if isinstance(t, yaml.AliasToken)), None)
        if alias is not None:
            raise InputProblem("rules", f"rules: aliases (*name) are not allowed "
                                        f"(line {alias.start_mark.line + 1})")  # fmt: skip
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputProblem("rules", f"rules are not valid YAML or JSON{where}: {problem}") from None
    if isinstance(data, dict) and set(data) == {"rules"}:
        data = data["rules"]
    # YAML dates and times become text, as the API would read them from JSON.
    return json.loads(json.dumps(data, default=str))


def parse_metadata(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputProblem("metadata", f"metadata is not valid JSON (line {exc.lineno}, "
                                       f"column {exc.colno}): {exc.msg}") from None  # fmt: skip


def _whole_number(text: str) -> int | str:
    """An integer when the text is one; otherwise the text, for the API to refuse by name."""
    try:
        return int(text)
    except ValueError:
        return text


def tester_body(form: TesterForm, viewer: Viewer) -> dict[str, Any]:
    """The ``POST /api/v1/rules/test`` body of the tester's form."""
    if not form.message:
        raise InputProblem("message", "enter the user message of the request to test")
    request: dict[str, Any] = {"model": form.model or AUTO,
                               "messages": [{"role": "user", "content": form.message}]}  # fmt: skip
    if form.max_tokens:
        request["max_tokens"] = _whole_number(form.max_tokens)
    body: dict[str, Any] = {"request": request}
    if form.quality:
        body["quality"] = form.quality
    if form.priority:
        body["priority"] = form.priority
    tags = [t.strip() for t in form.tags.split(",") if t.strip()]
    if tags:
        body["tags"] = tags
    if form.metadata:
        body["metadata"] = parse_metadata(form.metadata)
    if form.rules:
        body["rules"] = parse_rules(form.rules)
    if form.as_user and viewer.is_admin:
        body["principal"] = {"user_id": form.as_user}
    return body


def tester_errors(error: ApiError) -> dict[str, str]:
    """The API's refusal next to the tester's field that its ``param`` names."""
    param = error.param or ""
    for prefix, name in PARAM_FIELDS:
        if param == prefix or param.startswith((f"{prefix}.", f"{prefix}[")):
            return {name: error.message}
    return field_errors(error, FIELDS)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def describe(item: dict[str, Any]) -> str:
    """A condition or an action in one line: ``budget: scope team, percent_used {gte: 70}``."""
    rest = ", ".join(f"{k} {_compact(v)}" for k, v in item.items() if k != "type")
    return f"{item.get('type', '?')}: {rest}" if rest else str(item.get("type", "?"))


def evaluation_order(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules as they run: highest priority first, ties in their listed order."""
    ranked = sorted(enumerate(rules), key=lambda pair: (-int(pair[1].get("priority", 0)), pair[0]))
    return [rule | {"order": n} for n, (_, rule) in enumerate(ranked, start=1)]


async def _model_choices(request: Request, api: DashboardApi, viewer: Viewer) -> list[str]:
    """``auto``, the configured aliases, then the registered models the viewer may name."""
    aliases = [alias.name for alias in app_state(request).config.config.aliases]
    if viewer.is_admin:
        models = [m["id"] for m in (await api.get("/models"))["models"]]
    else:
        me = await api.optional(api.get("/me"), {})
        models = list((me.get("key") or {}).get("allowed_models") or [])
    return list(dict.fromkeys([AUTO, *aliases, *sorted(models)]))


async def _page(
    request: Request,
    viewer: Viewer,
    api: DashboardApi,
    form: TesterForm,
    *,
    result: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    in_effect, choices = await api.gather(api.get("/rules"), _model_choices(request, api, viewer))
    if form.model and form.model not in choices:
        choices.append(form.model)
    decision = (result or {}).get("decision") or {}
    return render(
        request, viewer, "rules.html", status_code=status_code, title="Rules",
        rules=evaluation_order(in_effect["rules"]), config_file=in_effect.get("configFile"),
        last_error=in_effect.get("lastError"), describe=describe, form=form, errors=form.errors,
        choices=choices, priorities=PRIORITIES, result=result,
        candidates=candidate_rows(decision), settings=directive_settings(
            (result or {}).get("directive") or {}), example_rules=EXAMPLE_RULES,
    )  # fmt: skip


@router.get("/rules", response_class=HTMLResponse)
async def rules_page(request: Request, viewer: ViewerDep) -> HTMLResponse:
    async with api_for(request, viewer) as api:
        return await _page(request, viewer, api, TesterForm())


@router.post("/rules", response_class=HTMLResponse)
async def run_tester(request: Request, viewer: ViewerDep) -> HTMLResponse:
    """Run the tester: the answer (or the refusal, next to its field) on the same page."""
    form = TesterForm.of_post(await read_form(request, viewer))
    async with api_for(request, viewer) as api:
        try:
            result = await api.post("/rules/test", tester_body(form, viewer))
        except InputProblem as problem:
            form.errors = {problem.field_name: problem.message}
            return await _page(request, viewer, api, form, status_code=400)
        except ApiError as error:
            if error.status >= 500:
                raise
            form.errors = tester_errors(error)
            return await _page(request, viewer, api, form, status_code=error.status)
        return await _page(request, viewer, api, form, result=result)
