"""Turning a page's data into HTML: the Jinja environment, its filters and the navigation.

Templates autoescape everything; figures arrive from the API as decimal strings and are only
formatted here (``usd``, ``percent``), never re-computed in floating point.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from thrifty import __version__
from thrifty.ui.session import Viewer

TEMPLATES = Path(__file__).parent / "templates"
NOTICE_COOKIE = "thrifty_notice"

#: The pages in the navigation: (path, label). Every page's template names its ``page``.
NAVIGATION = (
    ("/", "Overview"),
    ("/budgets", "Budgets"),
    ("/alerts", "Alerts"),
    ("/approvals", "Approvals"),
    ("/analytics", "Analytics"),
    ("/decisions", "Decisions"),
    ("/models", "Models"),
    ("/rules", "Rules"),
    ("/recommendations", "Recommendations"),
)

STATUS_CLASSES = {"normal": "ok", "warning": "warn", "critical": "crit", "exhausted": "over"}


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def usd(value: Any) -> str:
    """``"12.5"`` → ``$12.50``; below a dollar four decimals (``$0.7251``), below a cent six
    (``$0.002697``), trailing zeros dropped past the cents."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount >= 1 or amount == 0:
        return f"{sign}${amount:,.2f}"
    places = Decimal("0.0001") if amount >= Decimal("0.01") else Decimal("0.000001")
    text = f"{amount.quantize(places):f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{amount:.2f}"
    return f"{sign}${text}"


def percent(value: Any, digits: int = 1) -> str:
    amount = _decimal(value)
    return "—" if amount is None else f"{amount:.{digits}f}%"


def when(value: Any) -> str:
    """An ISO timestamp as ``2026-12-01 16:40 UTC``."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def status_class(status: Any) -> str:
    return STATUS_CLASSES.get(str(status), "ok")


def bar_width(value: Any) -> str:
    """A usage bar's CSS width from a percentage (capped at 100%)."""
    amount = _decimal(value) or Decimal(0)
    return f"{max(Decimal(0), min(amount, Decimal(100))):.1f}%"


def to_json(value: Any) -> Markup:
    """JSON for a ``<script type="application/json">`` block (``<`` escaped)."""
    text = json.dumps(value, default=str, separators=(",", ":")).replace("<", "\\u003c")
    return Markup(text)  # noqa: S704 - JSON with "<" escaped cannot close the script element


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(usd=usd, percent=percent, when=when, status_class=status_class,
                       bar_width=bar_width, to_json=to_json)  # fmt: skip
    env.globals.update(navigation=NAVIGATION, version=__version__)
    return env


ENVIRONMENT = _environment()


def render(
    request: Request,
    viewer: Viewer | None,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` for ``viewer``, with the notice left by the last redirect."""
    notice = request.cookies.get(NOTICE_COOKIE)
    html = ENVIRONMENT.get_template(template).render(
        request=request, viewer=viewer, notice=notice, path=request.url.path, **context
    )
    response = HTMLResponse(html, status_code=status_code)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def redirect(url: str, notice: str | None = None) -> RedirectResponse:
    """A 303 to ``url`` (after a form's POST), carrying ``notice`` to the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice:
        response.set_cookie(NOTICE_COOKIE, notice[:300], max_age=60, path="/",
                            httponly=True, samesite="lax")  # fmt: skip
    return response
