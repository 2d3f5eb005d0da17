"""Calling an attempt's upstream in the client's API shape, translating when the upstream
speaks the other API, and reading the usage it reports."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from thrifty.gateway.events import parse_events
from thrifty.gateway.pipeline import Attempt, Reported
from thrifty.pricing.tokens import TokenCount, count_text
from thrifty.providers import usage as usage_format
from thrifty.providers.client import UpstreamError

ANTHROPIC_MESSAGES = "/v1/messages"


def openai_path(attempt: Attempt, endpoint: str = "/chat/completions") -> str:
    """``openai`` base URLs end in ``/v1`` (as OpenAI's SDK expects); ``simulated`` ones are the
    server's root, which serves both APIs under ``/v1``."""
    return endpoint if attempt.provider.kind == "openai" else "/v1" + endpoint


def reported(usage: usage_format.Usage | None) -> Reported | None:
    if usage is None:
        return None
    return Reported(
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.reasoning_tokens,
    )


def speaks_openai(attempt: Attempt) -> bool:
    return attempt.provider.kind in ("openai", "simulated")


def _openai_body(attempt: Attempt, body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    upstream = dict(body, model=attempt.profile.upstream_model)
    if stream:
        upstream["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    return upstream


async def complete_chat(
    attempt: Attempt, body: dict[str, Any]
) -> tuple[dict[str, Any], Reported | None]:
    """A non-streamed OpenAI-shaped answer and the usage the upstream reported."""
    if speaks_openai(attempt):
        response = await attempt.client.post(
            openai_path(attempt), _openai_body(attempt, body, stream=False)
        )
        attempt.first_byte = time.perf_counter()
        return response, reported(usage_format.usage_from_openai(response.get("usage")))
    from thrifty.providers import translate

    request = translate.openai_request_to_anthropic(
        body,
        upstream_model=attempt.profile.upstream_model,
        default_max_tokens=attempt.profile.max_output_tokens or 4096,
    )
    answer = await attempt.client.post(ANTHROPIC_MESSAGES, request)
    attempt.first_byte = time.perf_counter()
    usage = reported(usage_format.usage_from_anthropic(answer.get("usage")))
    response = translate.anthropic_response_to_openai(
        answer, model=attempt.profile.id, created=int(time.time())
    )
    return response, usage


class ChatStream:
    """An upstream stream as OpenAI chunks, with the usage seen so far."""

    def __init__(
        self,
        attempt: Attempt,
        manager: AbstractAsyncContextManager[AsyncIterator[str]],
        lines: AsyncIterator[str],
    ) -> None:
        self.attempt = attempt
        self._manager = manager
        self._lines = lines
        self.usage: Reported | None = None
        self._closed = False

    def _safe_lines(self) -> AsyncIterator[str]:
        """The upstream's lines (the client turns a broken connection into UpstreamError)."""
        return self._lines

    async def chunks(self) -> AsyncIterator[dict[str, Any]]:
        if speaks_openai(self.attempt):
            async for event in parse_events(self._safe_lines()):
                if event.data == "[DONE]":
                    return
                chunk = _json(event.data)
                if chunk.get("usage"):
                    self.usage = reported(usage_format.usage_from_openai(chunk["usage"]))
                yield chunk
            return
        from thrifty.providers import translate

        translator = translate.AnthropicToOpenAIStream(
            self.attempt.profile.id, "chatcmpl-" + self.attempt.hold_id, int(time.time()), True
        )
        async for event in parse_events(self._safe_lines()):
            for chunk in translator.feed(event.event or "", _json(event.data)):
                self.usage = reported(translator.usage)
                yield chunk
        for chunk in translator.finish():
            self.usage = reported(translator.usage)
            yield chunk

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._manager.__aexit__(None, None, None)


def _json(data: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(
            "upstream sent a malformed stream chunk", status=502, retryable=False
        ) from None
    if not isinstance(value, dict):
        raise UpstreamError("upstream sent a malformed stream chunk", status=502, retryable=False)
    if isinstance(value.get("error"), dict):
        message = str(value["error"].get("message", "upstream error mid-stream"))
        raise UpstreamError(message, status=502, retryable=False)
    return value


async def open_chat_stream(attempt: Attempt, body: dict[str, Any]) -> ChatStream:
    """Open the upstream stream; errors before its first byte raise ``UpstreamError``."""
    if speaks_openai(attempt):
        manager = attempt.client.stream(
            openai_path(attempt), _openai_body(attempt, body, stream=True)
        )
    else:
        from thrifty.providers import translate

        request = translate.openai_request_to_anthropic(
            dict(body, stream=True),
            upstream_model=attempt.profile.upstream_model,
            default_max_tokens=attempt.profile.max_output_tokens or 4096,
        )
        manager = attempt.client.stream(ANTHROPIC_MESSAGES, request)
    lines = await manager.__aenter__()
    return ChatStream(attempt, manager, lines)


# --- Anthropic-shaped calls (``/v1/messages``) -------------------------------------------------


def speaks_anthropic(attempt: Attempt) -> bool:
    return attempt.provider.kind in ("anthropic", "simulated")


async def complete_message(
    attempt: Attempt, body: dict[str, Any]
) -> tuple[dict[str, Any], Reported | None]:
    """A non-streamed Anthropic-shaped answer and the usage the upstream reported."""
    if speaks_anthropic(attempt):
        answer = await attempt.client.post(
            ANTHROPIC_MESSAGES, dict(body, model=attempt.profile.upstream_model)
        )
        attempt.first_byte = time.perf_counter()
        return answer, reported(usage_format.usage_from_anthropic(answer.get("usage")))
    from thrifty.providers import translate

    request = translate.anthropic_request_to_openai(
        body, upstream_model=attempt.profile.upstream_model
    )
    response = await attempt.client.post(openai_path(attempt), request)
    attempt.first_byte = time.perf_counter()
    usage = reported(usage_format.usage_from_openai(response.get("usage")))
    answer = translate.openai_response_to_anthropic(
        response, model=attempt.profile.id, message_id="msg_" + attempt.hold_id.replace("/", "_")
    )
    return answer, usage


class MessageStream(ChatStream):
    """An upstream stream as Anthropic events ``(name, data)``, with the usage seen so far."""

    async def events(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        if speaks_anthropic(self.attempt):
            input_tokens = cached = written = 0
            async for event in parse_events(self._safe_lines()):
                data = _json(event.data)
                name = event.event or str(data.get("type", ""))
                if name == "message_start":
                    start = (data.get("message") or {}).get("usage") or {}
                    found = usage_format.usage_from_anthropic(start)
                    if found is not None:
                        input_tokens = found.input_tokens
                        cached, written = found.cached_input_tokens, found.cache_write_tokens
                        self.usage = Reported(input_tokens, found.output_tokens, cached, written)
                elif name == "message_delta":
                    output = (data.get("usage") or {}).get("output_tokens")
                    if isinstance(output, int) and output >= 0:
                        self.usage = Reported(input_tokens, output, cached, written)
                yield name, data
            return
        from thrifty.providers import translate

        message_id = "msg_" + self.attempt.hold_id.replace("/", "_")
        translator = translate.OpenAIToAnthropicStream(self.attempt.profile.id, message_id)
        async for event in parse_events(self._safe_lines()):
            if event.data == "[DONE]":
                break
            chunk = _json(event.data)
            for item in translator.feed(chunk):
                self.usage = reported(translator.usage)
                yield item
        for item in translator.finish():
            self.usage = reported(translator.usage)
            yield item


async def open_message_stream(attempt: Attempt, body: dict[str, Any]) -> MessageStream:
    if speaks_anthropic(attempt):
        upstream = dict(body, model=attempt.profile.upstream_model, stream=True)
        manager = attempt.client.stream(ANTHROPIC_MESSAGES, upstream)
    else:
        from thrifty.providers import translate

        request = translate.anthropic_request_to_openai(
            dict(body, stream=True), upstream_model=attempt.profile.upstream_model
        )
        request["stream_options"] = {"include_usage": True}
        manager = attempt.client.stream(openai_path(attempt), request)
    lines = await manager.__aenter__()
    return MessageStream(attempt, manager, lines)


# --- embeddings -------------------------------------------------------------------------------


def count_many(texts: list[str], raw: Any, model: str) -> TokenCount:
    """Input tokens of an embeddings request (token arrays count by their length)."""
    if isinstance(raw, list) and raw and all(isinstance(v, list) for v in raw):
        return TokenCount(sum(len(v) for v in raw), True, "given")
    counts = [count_text(text, model) for text in texts]
    return TokenCount(
        sum(c.tokens for c in counts), all(c.exact for c in counts), counts[0].encoding
    )


async def embed(attempt: Attempt, body: dict[str, Any]) -> tuple[dict[str, Any], Reported | None]:
    if not speaks_openai(attempt):
        raise UpstreamError(
            f"provider {attempt.provider.name!r} ({attempt.provider.kind}) serves no embeddings",
            status=400,
            retryable=False,
        )
    response = await attempt.client.post(
        openai_path(attempt, "/embeddings"), dict(body, model=attempt.profile.upstream_model)
    )
    attempt.first_byte = time.perf_counter()
    usage = response.get("usage") or {}
    prompt = usage.get("prompt_tokens")
    if isinstance(prompt, int) and not isinstance(prompt, bool) and prompt >= 0:
        return response, Reported(prompt, 0)
    return response, None
