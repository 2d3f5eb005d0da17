"""Forms: reading a POST (with its CSRF token) and putting the API's errors next to fields."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fastapi import Request

from thrifty.ui.api import ApiError
from thrifty.ui.session import Viewer, csrf_matches

GENERAL = "_form"  # the key of an error that names no field of the form


@dataclass
class Form:
    """A submitted form: its values (each field's last value) and its multi-valued fields."""

    values: dict[str, str]
    lists: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default).strip()

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.lists.get(name, []) if v.strip()]


async def read_form(request: Request, viewer: Viewer) -> Form:
    """The POSTed form; a missing or wrong CSRF token is refused (403)."""
    data = await request.form()
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    lists = {k: [v for v in data.getlist(k) if isinstance(v, str)] for k in data}
    if not csrf_matches(viewer.token, values.get("csrf")):
        raise ApiError(403, "the form's CSRF token is missing or stale: reload the page",
                       "csrf", "csrf_failed")  # fmt: skip
    return Form(values, lists)


def field_errors(error: ApiError, fields: Iterable[str]) -> dict[str, str]:
    """The API's error keyed by the form field its ``param`` points at (the longest field
    name that is a prefix of it: ``thresholds.1.percent`` → ``thresholds``), else general.
    A validation error that lists several problems puts each next to its own field."""
    known = sorted(fields, key=len, reverse=True)
    if not error.details:
        return {_field_of(error.param or "", known): error.message}
    found: dict[str, str] = {}
    for param, message in error.details:
        found.setdefault(_field_of(param, known), f"{param}: {message}")
    return found


def _field_of(param: str, known: list[str]) -> str:
    for name in known:
        if param == name or param.startswith(f"{name}.") or param.startswith(f"{name}["):
            return name
    return GENERAL
