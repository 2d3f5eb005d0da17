"""What the sync and async clients share: how a call is described, and how an answer is read.

A :class:`Call` is one HTTP request of the admin API with the function that reads its JSON
answer; a :data:`Plan` is a generator that yields calls and receives what each one returned,
for the methods that take several requests (finding the caller's own chain). The clients only
send: ``Client`` with ``httpx.Client``, ``AsyncClient`` with ``httpx.AsyncClient``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from thrifty import __version__
from thrifty.client.errors import ServerUnavailable, ThriftyError, error_from_response
from thrifty.client.results import malformed

T = TypeVar("T")
Plan = Generator["Call[Any]", Any, T]

#: Where ``make run`` (``thrifty serve`` on the embedded defaults) listens.
DEFAULT_BASE_URL = "http://127.0.0.1:8787"
BASE_URL_ENV = "THRIFTY_BASE_URL"
API_KEY_ENV = "THRIFTY_API_KEY"
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request: ``read`` turns the JSON of a 2xx answer into the result."""

    method: str
    path: str
    read: Callable[[Any], T]
    body: Mapping[str, Any] | None = None
    params: Mapping[str, str] | None = None
    selecting: bool = False  # Thrifty chooses a model: a 400 on `model` is SelectionFailed

    def options(self) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.request`` (and of the async one)."""
        options: dict[str, Any] = {"method": self.method, "url": self.path}
        if self.body is not None:
            options["json"] = self.body
        if self.params:
            options["params"] = self.params
        return options

    def result(self, response: httpx.Response) -> T:
        """The result of the answer, or the :class:`ThriftyError` it means, raised."""
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = response.text
        if response.is_error:
            raise error_from_response(
                response.status_code, data, response.headers, selecting=self.selecting
            )
        try:
            return self.read(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(f"{self.method} {self.path}: {exc!r}") from exc


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the server is and who calls it."""

    base_url: str
    api_key: str
    timeout_s: float

    @classmethod
    def of(cls, base_url: str | None, api_key: str | None, timeout_s: float) -> Connection:
        """Arguments first, then ``THRIFTY_BASE_URL`` / ``THRIFTY_API_KEY``, then defaults."""
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        key = api_key or os.environ.get(API_KEY_ENV)
        if not key:
            raise ValueError(f"no API key: pass api_key= or set {API_KEY_ENV}")
        return cls(url.rstrip("/"), key, timeout_s)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client`` (and of ``httpx.AsyncClient``)."""
        return {
            "base_url": self.base_url,
            "headers": {
                "Authorization": f"Bearer {self.api_key}",
                "User-Agent": f"thrifty-client/{__version__}",
            },
            "timeout": self.timeout_s,
        }

    def unreachable(self, call: Call[Any], exc: httpx.TransportError) -> ThriftyError:
        return ServerUnavailable(
            f"cannot reach Thrifty at {self.base_url} ({call.method} {call.path}): {exc}"
        )
