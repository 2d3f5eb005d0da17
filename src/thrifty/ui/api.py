"""The admin API, called in-process as the signed-in key.

A page never reads the database for what it shows: it asks the API, through an
``httpx.ASGITransport`` to this same application, with the viewer's principal placed in the
request's ASGI scope (``thrifty.api.state.PRINCIPAL_SCOPE_KEY``) where the API's
authentication finds it. A client's HTTP request cannot put anything there, so this path is
open only to code in the process. The API's answers, errors included, are what the page shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from thrifty.api.state import PRINCIPAL_SCOPE_KEY
from thrifty.budgets.principal import Principal

Params = Mapping[str, str | int | float | bool | None]


class ApiError(Exception):
    """An API answer of 4xx or 5xx, with the API's message and the field it names."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None,
        code: str | None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.details = details  # every (param, message) of a validation error, when it lists them


class DashboardApi:
    """One page request's client of the API (an async context manager)."""

    def __init__(self, app: ASGIApp, principal: Principal) -> None:
        async def as_viewer(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, PRINCIPAL_SCOPE_KEY: principal}, receive, send)

        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=as_viewer), base_url="http://dashboard.internal"
        )

    async def __aenter__(self) -> DashboardApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def request(
        self, method: str, path: str, *, params: Params | None = None, json: Any = None
    ) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        response = await self._client.request(
            method, f"/api/v1{path}", params=clean or None, json=json
        )
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    async def get(self, path: str, **params: Any) -> Any:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.request("POST", path, json=json if json is not None else {})

    async def put(self, path: str, json: Any) -> Any:
        return await self.request("PUT", path, json=json)

    async def patch(self, path: str, json: Any) -> Any:
        return await self.request("PATCH", path, json=json)

    async def delete(self, path: str) -> Any:
        return await self.request("DELETE", path)

    async def optional(self, call: Awaitable[Any], default: Any = None) -> Any:
        """``call``'s answer, or ``default`` when the API refuses it (a key's rights, say)."""
        try:
            return await call
        except ApiError:
            return default

    @staticmethod
    async def gather(*calls: Awaitable[Any]) -> list[Any]:
        """Every call's answer, made concurrently. When some are refused, the first refusal in
        the calls' order is raised, once every call has ended: none is left running against a
        client that the page is about to close, or failing unobserved."""
        answers = await asyncio.gather(*calls, return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return list(answers)


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()["error"]
        details = tuple(
            (str(d["param"]), str(d["message"])) for d in body.get("details") or () if "param" in d
        )
        return ApiError(response.status_code, str(body.get("message")), body.get("param"),
                        body.get("code"), details)  # fmt: skip
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, response.text[:500] or response.reason_phrase,
                        None, None)  # fmt: skip
