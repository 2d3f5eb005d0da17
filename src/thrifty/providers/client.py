"""HTTP clients for upstream providers: pooled keep-alive connections, per-provider timeouts
and retries, the upstream's errors mapped to ``UpstreamError``.

The transport is injectable (``httpx`` transports), so tests can use a real local server or
an in-process ASGI app.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson

from thrifty.config.schema import ProviderConfig
from thrifty.errors import ThriftyError

ANTHROPIC_VERSION = "2023-06-01"
#: Statuses after which another attempt (here or on a fallback model) may succeed.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class UpstreamError(ThriftyError):
    """An upstream call failed. ``retryable``: another attempt or a fallback may succeed."""

    code = "upstream_error"

    def __init__(self, message: str, *, status: int, retryable: bool, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.body = body


def _error_message(body: Any, status: int) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return f"upstream answered HTTP {status}"


class UpstreamClient:
    """One provider's connection pool."""

    def __init__(
        self,
        config: ProviderConfig,
        *,
        base_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.kind = config.kind
        url = base_url or config.base_url or ""
        headers = {"content-type": "application/json"}
        secret = os.environ.get(config.api_key_env, "") if config.api_key_env else "simulated"
        if config.kind == "anthropic":
            headers |= {"x-api-key": secret, "anthropic-version": ANTHROPIC_VERSION}
        else:
            headers["authorization"] = f"Bearer {secret}"
        headers |= {name.lower(): value for name, value in config.headers.items()}
        self.http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=min(10.0, config.timeout_s)),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
            transport=transport,
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST JSON and return the JSON answer, retrying retryable failures in place."""
        for attempt in range(self.config.max_retries + 1):
            try:
                response = await self.http.post(path, content=orjson.dumps(body))
                if response.status_code < 400:
                    try:
                        data = orjson.loads(response.content)
                    except orjson.JSONDecodeError:
                        raise UpstreamError(
                            "upstream sent malformed JSON", status=502, retryable=True
                        ) from None
                    if not isinstance(data, dict):
                        raise UpstreamError(
                            "upstream sent no JSON object", status=502, retryable=True
                        )
                    return data
                raise self._http_error(response.status_code, response.content)
            except UpstreamError as exc:
                if not exc.retryable or attempt == self.config.max_retries:
                    raise
            except httpx.TimeoutException:
                if attempt == self.config.max_retries:
                    raise UpstreamError("upstream timed out", status=504, retryable=True) from None
            except httpx.TransportError as exc:
                if attempt == self.config.max_retries:
                    raise UpstreamError(
                        f"upstream unreachable: {type(exc).__name__}", status=502, retryable=True
                    ) from None
            await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def stream(self, path: str, body: dict[str, Any]) -> AsyncIterator[AsyncIterator[str]]:
        """POST and yield the response's lines; failures before the first byte raise
        ``UpstreamError`` (no retry here: the caller moves to a fallback)."""
        request = self.http.build_request("POST", path, content=orjson.dumps(body))
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TimeoutException:
            raise UpstreamError("upstream timed out", status=504, retryable=True) from None
        except httpx.TransportError as exc:
            raise UpstreamError(
                f"upstream unreachable: {type(exc).__name__}", status=502, retryable=True
            ) from None
        try:
            if response.status_code >= 400:
                content = await response.aread()
                raise self._http_error(response.status_code, content)
            yield response.aiter_lines()
        finally:
            await response.aclose()

    def _http_error(self, status: int, content: bytes) -> UpstreamError:
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        return UpstreamError(
            f"{self.config.name}: {_error_message(body, status)}",
            status=status,
            retryable=status in RETRYABLE_STATUSES,
            body=body,
        )
