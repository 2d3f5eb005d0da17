"""The Anthropic-compatible endpoint: ``POST /v1/messages`` (streaming too)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from thrifty.errors import InvalidInput, ThriftyError
from thrifty.gateway.attempts import first_success
from thrifty.gateway.events import anthropic_event
from thrifty.gateway.http import (
    anthropic_error,
    authenticate,
    new_request_id,
    quality_header,
    read_json,
    request_marks,
    success_headers,
)
from thrifty.gateway.pipeline import Attempt, CallContext, Gateway, cost_header
from thrifty.gateway.ratelimit import admit_chat
from thrifty.gateway.steering import SteeringInput
from thrifty.gateway.upstream import MessageStream, complete_message, open_message_stream
from thrifty.providers.client import UpstreamError

MESSAGES_PATH = "/v1/messages"


def _validate(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]], int]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidInput("model: Field required", field="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidInput("messages: Field required (a non-empty array)", field="messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise InvalidInput(
                f"messages.{i}.role: must be 'user' or 'assistant'", field=f"messages.{i}.role"
            )
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidInput("max_tokens: Field required (a positive integer)", field="max_tokens")
    return model, messages, max_tokens


def _counting_tools(tools: Any) -> list[dict[str, Any]] | None:
    """Anthropic tool definitions in the OpenAI shape the token counter knows."""
    if not isinstance(tools, list) or not tools:
        return None
    return [
        {
            "type": "function",
            "function": {
                "name": tool.get("name", ""),
                "description": tool.get("description", ""),
                "parameters": tool.get("input_schema", {}),
            },
        }
        for tool in tools
        if isinstance(tool, dict)
    ]


def _text_of(answer: dict[str, Any]) -> str:
    parts = []
    for block in answer.get("content") or []:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_use":
            parts.append(str(block.get("name", "")) + orjson.dumps(block.get("input")).decode())
    return "".join(parts)


async def messages(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    request_id = new_request_id()
    try:
        principal = authenticate(gateway.state, request)
        body = await read_json(request)
        model, conversation, max_tokens = _validate(body)
        priority, tags, metadata = request_marks(request, body)
        ctx = gateway.context(request_id, principal, priority, tags, metadata)
        ctx, chain, steered = await gateway.steer(
            ctx,
            SteeringInput(
                path=MESSAGES_PATH,
                requested_model=model,
                messages=conversation,
                max_tokens=max_tokens,
                tools=_counting_tools(body.get("tools")),
                system=body.get("system"),
                quality=quality_header(request),
            ),
        )
        if steered.max_tokens is not None and max_tokens > steered.max_tokens:
            max_tokens = body["max_tokens"] = steered.max_tokens
        args = {
            "messages": conversation,
            "max_tokens": max_tokens,
            "tools": _counting_tools(body.get("tools")),
            "system": body.get("system"),
        }
        await admit_chat(request, ctx, chain[0], **args)
        if body.get("stream"):
            return await _stream(gateway, ctx, chain, body, args)
        return await _complete(gateway, ctx, chain, body, args)
    except ThriftyError as exc:
        return anthropic_error(exc, request_id)


async def _complete(
    gateway: Gateway, ctx: CallContext, chain: list[Any], body: dict[str, Any], args: dict[str, Any]
) -> Response:
    attempt, (answer, reported) = await first_success(
        gateway, ctx, chain, args, lambda attempt: complete_message(attempt, body)
    )
    cost = await gateway.settle(ctx, attempt, reported=reported, output_text=_text_of(answer))
    answer["model"] = attempt.profile.id
    headers = success_headers(ctx, attempt.profile.id, cost_header(cost))
    return Response(orjson.dumps(answer), 200, headers, "application/json")


async def _stream(
    gateway: Gateway, ctx: CallContext, chain: list[Any], body: dict[str, Any], args: dict[str, Any]
) -> Response:
    attempt, stream = await first_success(
        gateway, ctx, chain, args, lambda attempt: open_message_stream(attempt, body)
    )
    headers = success_headers(ctx, attempt.profile.id, None)
    relay = _relay(gateway, ctx, attempt, stream)
    return StreamingResponse(relay, media_type="text/event-stream", headers=headers)


async def _relay(
    gateway: Gateway, ctx: CallContext, attempt: Attempt, stream: MessageStream
) -> AsyncIterator[bytes]:
    """Forward events; bill what was streamed, whatever ends the stream. A stream that ends
    normally is settled before its ``message_stop``."""
    text: list[str] = []
    settled = False

    async def settle(status: str) -> None:
        nonlocal settled
        with anyio.CancelScope(shield=True):
            if not settled:
                settled = True
                await gateway.settle(
                    ctx, attempt, reported=stream.usage, output_text="".join(text), status=status
                )

    try:
        async for name, data in stream.events():
            if attempt.first_byte is None:
                attempt.first_byte = time.perf_counter()
            if name == "message_start" and isinstance(data.get("message"), dict):
                data["message"]["model"] = attempt.profile.id
            delta = data.get("delta") or {}
            if name == "content_block_delta":
                text.append(str(delta.get("text") or delta.get("partial_json") or ""))
            if name == "message_delta" and stream.usage is not None:
                cost = gateway.cost(attempt, stream.usage, "".join(text)).cost
                data.setdefault("usage", {})["cost_usd"] = cost_header(cost)
            if name == "message_stop":
                await settle("ok")
            yield anthropic_event(name, data)
        await settle("ok")
    except UpstreamError as exc:
        await settle("interrupted")
        error = {"type": "error", "error": {"type": "api_error", "message": exc.message}}
        yield anthropic_event("error", error)
    finally:
        await settle("disconnected")
        with anyio.CancelScope(shield=True):
            await stream.close()
