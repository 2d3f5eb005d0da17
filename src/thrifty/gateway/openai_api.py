"""The OpenAI-compatible endpoints: ``/v1/chat/completions``, ``/v1/models``, ``/v1/embeddings``.

Upstreams of kind ``openai`` and ``simulated`` receive the request as it came (with the
upstream's model name); ``anthropic`` upstreams get it translated and answer translated back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from thrifty.errors import InvalidInput, ThriftyError
from thrifty.gateway.attempts import first_success, why
from thrifty.gateway.events import OPENAI_DONE, openai_chunk
from thrifty.gateway.http import (
    authenticate,
    new_request_id,
    openai_error,
    quality_header,
    read_json,
    request_marks,
    success_headers,
)
from thrifty.gateway.pipeline import Attempt, CallContext, Gateway, Reported, cost_header
from thrifty.gateway.ratelimit import admit_chat, admit_tokens
from thrifty.gateway.steering import AUTO, SteeringInput
from thrifty.gateway.upstream import complete_chat, count_many, embed, open_chat_stream
from thrifty.providers.client import UpstreamError
from thrifty.routing.estimates import tokenizer_model

CHAT_PATH = "/v1/chat/completions"


def _validate(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]], int | None]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("model is required (a string)", field="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("messages is required (a non-empty array)", field="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidInput(f"messages[{i}] needs a role", field=f"messages.{i}.role")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise InvalidInput("max_tokens must be a positive integer", field="max_tokens")
    n = body.get("n", 1)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 16:
        raise InvalidInput("n must be an integer from 1 to 16", field="n")
    return model, messages, max_tokens


def _text_of(response: dict[str, Any]) -> str:
    parts = []
    for choice in response.get("choices") or []:
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            parts.append(message["content"])
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            parts.append(str(function.get("name", "")) + str(function.get("arguments", "")))
    return "".join(parts)


async def chat_completions(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    request_id = new_request_id()
    try:
        principal = authenticate(gateway.state, request)
        body = await read_json(request)
        model, messages, max_tokens = _validate(body)
        priority, tags, metadata = request_marks(request, body)
        ctx = gateway.context(request_id, principal, priority, tags, metadata)
        ctx, chain, steered = await gateway.steer(
            ctx,
            SteeringInput(
                path=CHAT_PATH,
                requested_model=model,
                messages=messages,
                max_tokens=max_tokens,
                tools=body.get("tools"),
                response_format=body.get("response_format"),
                quality=quality_header(request),
            ),
        )
        if steered.max_tokens is not None and (
            max_tokens is None or max_tokens > steered.max_tokens
        ):
            max_tokens = steered.max_tokens
            body.pop("max_completion_tokens", None)
            body["max_tokens"] = max_tokens
        attempt_args = {
            "messages": messages,
            "max_tokens": (max_tokens or 0) * body.get("n", 1) or None,
            "tools": body.get("tools"),
        }
        await admit_chat(request, ctx, chain[0], **attempt_args)
        if body.get("stream"):
            return await _stream(gateway, ctx, chain, body, attempt_args)
        return await _complete(gateway, ctx, chain, body, attempt_args)
    except ThriftyError as exc:
        return openai_error(exc, request_id)


async def _complete(
    gateway: Gateway, ctx: CallContext, chain: list[Any], body: dict[str, Any], args: dict[str, Any]
) -> Response:
    attempt, (response, reported) = await first_success(
        gateway, ctx, chain, args, lambda attempt: complete_chat(attempt, body)
    )
    cost = await gateway.settle(ctx, attempt, reported=reported, output_text=_text_of(response))
    response["model"] = attempt.profile.id
    headers = success_headers(ctx, attempt.profile.id, cost_header(cost))
    return Response(orjson.dumps(response), 200, headers, "application/json")


async def _stream(
    gateway: Gateway, ctx: CallContext, chain: list[Any], body: dict[str, Any], args: dict[str, Any]
) -> Response:
    wants_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    attempt, stream = await first_success(
        gateway, ctx, chain, args, lambda attempt: open_chat_stream(attempt, body)
    )
    headers = success_headers(ctx, attempt.profile.id, None)
    relay = _relay(gateway, ctx, attempt, stream, wants_usage)
    return StreamingResponse(relay, media_type="text/event-stream", headers=headers)


async def _relay(
    gateway: Gateway, ctx: CallContext, attempt: Attempt, stream: Any, wants_usage: bool
) -> AsyncIterator[bytes]:
    """Forward chunks; bill what was streamed, whatever ends the stream. A stream that ends
    normally is settled before its ``[DONE]``, so its usage record exists when the client is
    told it is complete."""
    text: list[str] = []
    settled = False

    async def settle(status: str) -> None:
        nonlocal settled
        if settled:
            return
        settled = True
        with anyio.CancelScope(shield=True):
            await stream.close()
            await gateway.settle(
                ctx, attempt, reported=stream.usage, output_text="".join(text), status=status
            )

    try:
        async for chunk in stream.chunks():
            if attempt.first_byte is None:
                attempt.first_byte = time.perf_counter()
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str):
                    text.append(delta["content"])
                for call in delta.get("tool_calls") or []:
                    function = call.get("function") or {}
                    text.append(
                        str(function.get("name") or "") + str(function.get("arguments") or "")
                    )
            chunk["model"] = attempt.profile.id
            if stream.usage is not None and chunk.get("usage"):
                if not wants_usage:
                    continue
                cost = gateway.cost(attempt, stream.usage, "".join(text)).cost
                chunk["usage"]["cost_usd"] = cost_header(cost)
            yield openai_chunk(chunk)
        await settle("ok")
        yield OPENAI_DONE
    except UpstreamError as exc:
        await settle("interrupted")
        yield openai_chunk(
            {"error": {"message": exc.message, "type": "upstream_error", "code": exc.code}}
        )
    finally:
        await settle("disconnected")


async def list_models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    request_id = new_request_id()
    try:
        principal = authenticate(gateway.state, request)
    except ThriftyError as exc:
        return openai_error(exc, request_id)
    registry = gateway.state.registry.get()
    data = [
        {"id": p.id, "object": "model", "created": 0, "owned_by": p.provider}
        for p in registry
        if principal.may_use(p.id)
    ]
    # The names that ask the gateway to select: "auto" and the configured aliases.
    selecting = [AUTO, *(gateway.steering.aliases if gateway.steering is not None else ())]
    data += [
        {"id": name, "object": "model", "created": 0, "owned_by": "thrifty"} for name in selecting
    ]
    return Response(
        orjson.dumps({"object": "list", "data": data}), 200, media_type="application/json"
    )


def _embedding_inputs(body: dict[str, Any]) -> list[str]:
    value = body.get("input")
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return []  # token arrays: counted by their length
    raise InvalidInput("input must be a string or a non-empty array of strings", field="input")


async def embeddings(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    request_id = new_request_id()
    try:
        principal = authenticate(gateway.state, request)
        body = await read_json(request)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidInput("model is required (a string)", field="model")
        inputs = _embedding_inputs(body)
        priority, tags, metadata = request_marks(request, body)
        ctx = gateway.context(request_id, principal, priority, tags, metadata)
        profile = gateway.chain(model, principal)[0]
        counted = count_many(inputs, body.get("input"), tokenizer_model(profile))
        await admit_tokens(request, ctx, counted.tokens)
        attempt = await gateway.hold_tokens(ctx, profile, 0, counted, 0)
        try:
            response, reported = await embed(attempt, body)
        except UpstreamError as exc:
            await gateway.settle(ctx, attempt, reported=None, status="error", extra=why(exc))
            raise
        cost = await gateway.settle(ctx, attempt, reported=reported or Reported(counted.tokens, 0))
        response["model"] = profile.id
        headers = success_headers(ctx, profile.id, cost_header(cost))
        return Response(orjson.dumps(response), 200, headers, "application/json")
    except ThriftyError as exc:
        return openai_error(exc, request_id)
