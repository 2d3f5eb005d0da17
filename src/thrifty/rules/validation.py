"""Validate a rules list, collecting every problem with its rule, key path and line.

A problem reads ``thrifty.yaml:14: rules[0] (cost-aware-selection).when[1].percent_used:
unknown key 'gtee' (did you mean 'gte'?)``. Pydantic's error locations name the ``type`` of
each condition and action; they are removed here, and used to find the mapping whose keys
to suggest.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from thrifty.errors import ConfigError
from thrifty.rules.schema import ACTIONS, AUTO, Rule
from thrifty.rules.values import suggestion

Path = tuple[str | int, ...]
Locate = Callable[[Path], int | None]
_Problem = tuple[Path, Path, str]  # (the path shown, the path to locate, the message)
_NOT_A_MAPPING = {"model_attributes_type", "model_type", "dict_type"}


def validate_rules(
    data: Any,
    *,
    source: str,
    locate: Locate | None = None,
    known_models: Collection[str] | None = None,
) -> list[Rule]:
    """The rules of ``data`` (a list), or a ConfigError that lists every problem."""
    problems: list[_Problem] = []
    rules: list[Rule] = []
    items = [] if data is None else data
    if not isinstance(items, list | tuple):
        problems.append(((), (), f"must be a list of rules; got {type(items).__name__}"))
        items = []
    first_index: dict[str, int] = {}
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name in first_index:
            message = f"duplicate rule name {name!r} (first at rules[{first_index[name]}])"
            problems.append(((index, "name"), (index, "name"), message))
        elif isinstance(name, str):
            first_index[name] = index
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            problems.extend(_with_index(index, p) for p in _describe_all(exc.errors()))
        problems.extend(_with_index(index, p) for p in _action_problems(item, known_models))
    if problems:
        lines = [_format(problem, items, source, locate) for problem in problems]
        raise ConfigError("\n".join(lines), field=_dotted(("rules", *problems[0][0])))
    return rules


def _with_index(index: int, problem: _Problem) -> _Problem:
    shown, located, message = problem
    return (index, *shown), (index, *located), message


def _action_problems(item: Any, known_models: Collection[str] | None) -> list[_Problem]:
    """Checks across a rule's actions, on the raw data, so a rule with other problems is
    still checked: one action per type, and models that exist."""
    actions = item.get("then") if isinstance(item, dict) else None
    if not isinstance(actions, list | tuple):
        return []
    problems: list[_Problem] = []
    first: dict[str, int] = {}
    for j, action in enumerate(actions):
        kind = action.get("type") if isinstance(action, dict) else None
        if not isinstance(kind, str) or kind not in ACTIONS:
            continue
        if kind in first:
            message = f"a second {kind!r} action (the first is then[{first[kind]}])"
            problems.append((("then", j), ("then", j), message))
        first.setdefault(kind, j)
        if known_models is None:
            continue
        references: list[tuple[Path, object]] = []
        if kind == "route-to":
            references.append((("then", j, "model"), action.get("model")))
        elif kind == "select-model" and isinstance(action.get("candidates"), list | tuple):
            references.extend(
                (("then", j, "candidates", k), model)
                for k, model in enumerate(action["candidates"])
            )
        for path, model in references:
            if isinstance(model, str) and model != AUTO and model not in known_models:
                problems.append((path, path, _unknown_model(model, known_models)))
    return problems


def _unknown_model(model: str, known: Collection[str]) -> str:
    names = sorted(known)
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (
        f"unknown model {model!r}{suggestion(model, names)}; "
        f"configured: {shown or 'none'} (or {AUTO!r})"
    )


def _format(problem: _Problem, items: Any, source: str, locate: Locate | None) -> str:
    shown, located, message = problem
    line = locate(located) if locate is not None else None
    where = f"{source}:{line}" if line else source
    if not shown:
        return f"{where}: rules: {message}"
    index, rest = shown[0], shown[1:]
    item = items[index] if isinstance(index, int) else None
    name = item.get("name") if isinstance(item, dict) else None
    label = f"rules[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")
    return f"{where}: {label}{_dotted(rest, first=False)}: {message}"


def _dotted(path: Path, *, first: bool = True) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += part if first and not text else f".{part}"
    return text


def _describe_all(errors: Sequence[Any]) -> list[_Problem]:
    described = [_describe(error) for error in errors]
    paths = [shown for shown, _, _ in described]
    # A list whose items failed is also "too short"; the items' own errors say it all.
    return [
        problem
        for problem, error in zip(described, errors, strict=True)
        if error["type"] != "too_short" or not _has_deeper(problem[0], paths)
    ]


def _has_deeper(path: Path, paths: Sequence[Path]) -> bool:
    return any(len(other) > len(path) and other[: len(path)] == path for other in paths)


def _describe(error: Any) -> _Problem:
    path, parent, union = _resolve(tuple(error["loc"]))
    kind = error["type"]
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        key = str(path[-1])
        keys = [k for k in _keys(parent) if k != "type"]
        return path[:-1], path, f"unknown key {key!r}{suggestion(key, keys)}"
    if kind == "missing":
        return path[:-1], path[:-1], f"missing key {path[-1]!r}"
    if kind in ("union_tag_invalid", "union_tag_not_found") and union is not None:
        what = "action" if union.keys() == ACTIONS.keys() else "condition"
        allowed = ", ".join(union)
        if kind == "union_tag_not_found":
            return path, path, f"missing key 'type' (the {what} type: one of {allowed})"
        tag = str(error.get("ctx", {}).get("tag"))
        hint = suggestion(tag, list(union))
        return path, (*path, "type"), f"unknown {what} type {tag!r}{hint}; allowed: {allowed}"
    if kind in _NOT_A_MAPPING:
        message = "must be a mapping"
    return path, path, message


def _resolve(
    loc: Path,
) -> tuple[Path, type[BaseModel] | None, dict[str, type[BaseModel]] | None]:
    """The path without pydantic's union tags, the model holding its last key, and the
    union of models (by ``type``) expected at the path, if any."""
    path: list[str | int] = []
    model: type[BaseModel] | None = Rule
    parent: type[BaseModel] | None = None
    union: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if union is not None and isinstance(part, str) and part in union:
            model, union = union[part], None
            continue
        path.append(part)
        if isinstance(part, int):
            continue
        parent, model, union = model, *_step(model, part)
    return tuple(path), parent, union


def _step(
    model: type[BaseModel] | None, key: str
) -> tuple[type[BaseModel] | None, dict[str, type[BaseModel]] | None]:
    field = next(
        (
            f
            for name, f in (model.model_fields.items() if model else ())
            if (f.alias or name) == key
        ),
        None,
    )
    if field is None:
        return None, None
    members = _models_in(field.annotation)
    if len(members) == 1:
        return members[0], None
    if members:
        return None, {str(get_args(m.model_fields["type"].annotation)[0]): m for m in members}
    return None, None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending = [annotation]
    while pending:
        current = pending.pop(0)
        if isinstance(current, type) and issubclass(current, BaseModel):
            found.append(current)
        else:
            pending.extend(get_args(current))
    return found


def _keys(model: type[BaseModel] | None) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()] if model else []
