"""The simulated provider: a real upstream that speaks the OpenAI and Anthropic APIs.

    POST /v1/chat/completions   OpenAI chat (``stream``, ``n``, tools, JSON mode, ``stop``)
    POST /v1/embeddings         OpenAI embeddings (deterministic unit vectors)
    GET  /v1/models             the model list (Anthropic's shape when ``anthropic-version`` is
                                sent)
    POST /v1/messages           Anthropic Messages (``stream``, ``system``, tools)

Replies are deterministic (``simulated_text``) and their usage is exact: prompt tokens are
``count_chat`` of the request for the requested model, completion tokens ``count_text`` of what
was generated. Any bearer token or ``x-api-key`` is accepted; none is a 401. Errors have each
API's own shape.

Behaviour knobs, per server (``SimulatorSettings``) and per request (headers, which win):

    x-sim-latency-ms          delay before the first byte
    x-sim-tokens-per-second   streaming pace (0: as fast as possible)
    x-sim-error               429 | 500 | 503 | timeout | drop | malformed | wrong-usage

``error_rate`` draws 429/500/503 at random from the seeded generator. ``timeout`` holds the
request until the client disconnects (at most ``max_hang_s``, then 504); ``drop`` cuts the
connection halfway through the body or stream; ``malformed`` sends invalid JSON (half the body,
or one chunk of the stream); ``wrong-usage`` reports twice the completion tokens, plus one.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import logging
import os
import random
import re
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from thrifty.pricing.tokens import count_chat, count_text
from thrifty.providers import simulated_text as text
from thrifty.providers.sse import DONE, data_event, named_event

__all__ = ["SimulatorSettings", "create_simulator", "running_simulator"]

FAULTS = frozenset({"429", "500", "503", "timeout", "drop", "malformed", "wrong-usage"})
MODELS = (
    "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "o3-mini",
    "claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5",
    "text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002",
)  # fmt: skip
EMBEDDING_DIMENSIONS = {"text-embedding-3-large": 3072}
DEFAULT_DIMENSIONS = 1536
FINGERPRINT = "fp_simulated"
PLAN_CACHE_ENTRIES = 1024
PLAN_CACHE_BODY_BYTES = 64 * 1024
_RANDOM_FAULTS = ("429", "429", "500", "503")
_JSON = "application/json"
_PIECES = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """Server-wide knobs. The defaults are a perfect upstream; ``thrifty simulate`` sets
    realistic ones (20 ms, 5 % errors, 80 tokens/s)."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    tokens_per_second: float = 0.0  # 0: stream as fast as possible
    seed: int = 0
    max_hang_s: float = 120.0

    def __post_init__(self) -> None:
        if min(self.latency_ms, self.tokens_per_second, self.max_hang_s) < 0:
            raise ValueError("latency_ms, tokens_per_second and max_hang_s must be >= 0")
        if not 0 <= self.error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")


class Refusal(Exception):
    """An error answer; each API's wire gives it its shape."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


@dataclass(slots=True)
class Chat:
    """A validated chat request, whichever API it came through."""

    model: str
    messages: list[dict[str, Any]]
    prompt_tokens: int
    prompt: str  # the last user message's text
    after_tool_result: bool
    max_tokens: int | None
    system: Any = None
    tools: list[dict[str, Any]] = field(default_factory=list)  # {"name", "description", schema}
    tool_mode: str = "auto"  # "none" | "auto" | "required" | "named"
    tool_name: str | None = None
    json_schema: dict[str, Any] | None = None
    json_mode: bool = False
    stops: tuple[str, ...] = ()
    n: int = 1
    seed: Any = None
    stream: bool = False
    include_usage: bool = False


# -- request validation, shared -------------------------------------------------------------


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Refusal(400, "the body must be a JSON object")
    return body


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Refusal(400, "model: a non-empty string is required", "model")
    return model


def _messages(body: Mapping[str, Any], roles: frozenset[str]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refusal(400, "messages: a non-empty array is required", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in roles:
            allowed = ", ".join(sorted(roles))
            where = f"messages[{index}].role"
            raise Refusal(400, f"{where}: each message needs a role ({allowed})", where)
    return messages


def _integer(body: Mapping[str, Any], key: str, high: int = 10**7) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise Refusal(400, f"{key}: an integer from 1 to {high} is required", key)
    return value


def _flag(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool) and value is not None:
        raise Refusal(400, f"{key}: a boolean is required", key)
    return bool(value)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise Refusal(400, f"{key}: a string or an array of strings is required", key)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(part for part in parts if isinstance(part, str))
    return ""


def _last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message.get("content"))
    return ""


def _pieces(value: str, size: int = 0) -> list[str]:
    """Stream deltas: words (with their leading space), or ``size``-character slices."""
    if size:
        return [value[i : i + size] for i in range(0, len(value), size)] or [""]
    pieces = _PIECES.findall(value)
    rest = value[sum(map(len, pieces)) :]
    return [*pieces, rest] if rest or not pieces else pieces


# -- OpenAI -------------------------------------------------------------------------------


class OpenAIWire:
    id_prefix = "chatcmpl-"
    call_id_prefix = "call_"
    tool_preface = False
    roles = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
    errors: ClassVar[dict[int, tuple[str, str | None]]] = {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        404: ("invalid_request_error", "unknown_url"),
        405: ("invalid_request_error", "method_not_allowed"),
        429: ("requests", "rate_limit_exceeded"),
        500: ("server_error", None),
        503: ("server_error", "service_unavailable"),
        504: ("timeout", None),
    }
    finish: ClassVar[dict[str, str]] = {
        "stop": "stop",
        "stop_sequence": "stop",
        "length": "length",
        "tool_calls": "tool_calls",
    }
    malformed_event = b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": \n\n'

    def error_body(self, refusal: Refusal) -> bytes:
        kind, code = self.errors.get(refusal.status, ("server_error", None))
        error = {"message": refusal.message, "type": kind, "param": refusal.param, "code": code}
        return orjson.dumps({"error": error})

    def parse(self, body: Any) -> Chat:
        body = _object(body)
        model, messages = _model(body), _messages(body, self.roles)
        raw_tools = body.get("tools") or []
        if not isinstance(raw_tools, list):
            raise Refusal(400, "tools: an array is required", "tools")
        tools = []
        for index, tool in enumerate(raw_tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                where = f"tools[{index}].function.name"
                raise Refusal(400, f"{where}: each tool needs a function with a name", where)
            tools.append(function)
        mode, name = self._tool_choice(body.get("tool_choice"), tools)
        schema, json_mode = self._response_format(body.get("response_format"))
        options = body.get("stream_options")
        return Chat(
            model=model,
            messages=messages,
            prompt_tokens=count_chat(messages, model, tools=raw_tools or None).tokens,
            prompt=_last_user_text(messages),
            after_tool_result=messages[-1].get("role") in ("tool", "function"),
            max_tokens=_integer(body, "max_completion_tokens") or _integer(body, "max_tokens"),
            tools=tools,
            tool_mode=mode,
            tool_name=name,
            json_schema=schema,
            json_mode=json_mode,
            stops=_strings(body.get("stop"), "stop"),
            n=_integer(body, "n", 128) or 1,
            seed=body.get("seed"),
            stream=_flag(body, "stream"),
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        )

    def _tool_choice(self, choice: Any, tools: list[dict[str, Any]]) -> tuple[str, str | None]:
        if choice in (None, "auto", "none", "required"):
            return choice or "auto", None
        function = choice.get("function") if isinstance(choice, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not any(tool["name"] == name for tool in tools):
            message = "tool_choice: 'none', 'auto', 'required' or a function among the tools"
            raise Refusal(400, message, "tool_choice")
        return "named", name

    def _response_format(self, value: Any) -> tuple[dict[str, Any] | None, bool]:
        kind = value.get("type") if isinstance(value, dict) else value
        if kind in (None, "text"):
            return None, False
        if kind == "json_object":
            return None, True
        spec = value.get("json_schema") if isinstance(value, dict) else None
        if kind == "json_schema" and isinstance(spec, dict):
            schema = spec.get("schema")
            return (schema if isinstance(schema, dict) else None), True
        message = "response_format: type 'text', 'json_object' or 'json_schema' (with json_schema)"
        raise Refusal(400, message, "response_format")

    def usage(self, chat: Chat, replies: Sequence[text.Reply]) -> dict[str, Any]:
        completion = sum(reply.tokens for reply in replies)
        return {
            "prompt_tokens": chat.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": chat.prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def render(self, chat: Chat, replies: Sequence[text.Reply], ident: str, created: int) -> bytes:
        choices = []
        for index, reply in enumerate(replies):
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            message |= {"refusal": None, "annotations": []}
            if reply.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                    }
                    for c in reply.tool_calls
                ]
            finish = self.finish[reply.finish]
            choices.append(
                {"index": index, "message": message, "logprobs": None, "finish_reason": finish}
            )
        return orjson.dumps(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": chat.model,
                "choices": choices,
                "usage": self.usage(chat, replies),
                "service_tier": "default",
                "system_fingerprint": FINGERPRINT,
            }
        )

    def events(
        self, chat: Chat, replies: Sequence[text.Reply], ident: str, created: int
    ) -> tuple[list[bytes], list[float]]:
        base: dict[str, Any] = {"id": ident, "object": "chat.completion.chunk", "created": created}
        base |= {"model": chat.model, "service_tier": "default", "system_fingerprint": FINGERPRINT}
        if chat.include_usage:
            base["usage"] = None
        events: list[bytes] = []
        weights: list[float] = []

        def chunk(
            index: int, delta: dict[str, Any], finish: str | None = None, weight: float = 0
        ) -> None:
            choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            events.append(data_event({**base, "choices": [choice]}))
            weights.append(weight)

        for index, reply in enumerate(replies):
            if reply.tool_calls:
                chunk(index, {"role": "assistant", "content": None, "refusal": None})
                for number, call in enumerate(reply.tool_calls):
                    function = {"name": call.name, "arguments": ""}
                    head = {
                        "index": number,
                        "id": call.id,
                        "type": "function",
                        "function": function,
                    }
                    chunk(index, {"tool_calls": [head]})
                    pieces = _pieces(call.arguments, 12)
                    for piece in pieces:
                        delta = {
                            "tool_calls": [{"index": number, "function": {"arguments": piece}}]
                        }
                        chunk(index, delta, weight=reply.tokens / len(pieces))
            else:
                chunk(index, {"role": "assistant", "content": "", "refusal": None})
                pieces = _pieces(reply.text)
                for piece in pieces:
                    chunk(index, {"content": piece}, weight=reply.tokens / len(pieces))
            chunk(index, {}, self.finish[reply.finish])
        if chat.include_usage:
            events.append(data_event({**base, "choices": [], "usage": self.usage(chat, replies)}))
            weights.append(0)
        events.append(DONE)
        weights.append(0)
        return events, weights


# -- Anthropic ----------------------------------------------------------------------------


class AnthropicWire:
    id_prefix = "msg_"
    call_id_prefix = "toolu_"
    tool_preface = True
    roles = frozenset({"user", "assistant"})
    errors: ClassVar[dict[int, str]] = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        405: "invalid_request_error",
        429: "rate_limit_error",
        500: "api_error",
        503: "overloaded_error",
        504: "timeout_error",
    }
    finish: ClassVar[dict[str, str]] = {
        "stop": "end_turn",
        "stop_sequence": "stop_sequence",
        "length": "max_tokens",
        "tool_calls": "tool_use",
    }
    malformed_event = b'event: content_block_delta\ndata: {"type": "content_block_delta", "in\n\n'

    def error_body(self, refusal: Refusal) -> bytes:
        kind = self.errors.get(refusal.status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": refusal.message}})

    def parse(self, body: Any) -> Chat:
        body = _object(body)
        model, messages = _model(body), _messages(body, self.roles)
        max_tokens = _integer(body, "max_tokens")
        if max_tokens is None:
            raise Refusal(400, "max_tokens: Field required", "max_tokens")
        system = body.get("system")
        if system is not None and not isinstance(system, str | list):
            raise Refusal(400, "system: a string or an array of text blocks is required", "system")
        raw_tools = body.get("tools") or []
        if not isinstance(raw_tools, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) for t in raw_tools
        ):
            raise Refusal(400, "tools: an array of tools with a name is required", "tools")
        mode, name = self._tool_choice(body.get("tool_choice"), raw_tools)
        last = messages[-1]
        content = last.get("content")
        after_tool_result = last.get("role") == "user" and any(
            isinstance(block, dict) and block.get("type") == "tool_result"
            for block in (content if isinstance(content, list) else ())
        )
        counted = count_chat(messages, model, tools=raw_tools or None, system=system)
        return Chat(
            model=model,
            messages=messages,
            prompt_tokens=counted.tokens,
            prompt=_last_user_text(messages),
            after_tool_result=after_tool_result,
            max_tokens=max_tokens,
            system=system,
            tools=raw_tools,
            tool_mode=mode,
            tool_name=name,
            stops=_strings(body.get("stop_sequences"), "stop_sequences"),
            stream=_flag(body, "stream"),
        )

    def _tool_choice(self, choice: Any, tools: list[dict[str, Any]]) -> tuple[str, str | None]:
        kind = choice.get("type") if isinstance(choice, dict) else None
        if choice is None or kind in ("auto", "none", "any"):
            return {"any": "required"}.get(kind or "auto", kind or "auto"), None
        name = choice.get("name") if kind == "tool" else None
        if not any(tool["name"] == name for tool in tools):
            message = "tool_choice: type 'auto', 'any', 'none', or 'tool' naming one of the tools"
            raise Refusal(400, message, "tool_choice")
        return "named", name

    def _blocks(self, reply: text.Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.text or not reply.tool_calls:
            blocks.append({"type": "text", "text": reply.text})
        for call in reply.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.id,
                    "name": call.name,
                    "input": orjson.loads(call.arguments),
                }
            )
        return blocks

    def render(self, chat: Chat, replies: Sequence[text.Reply], ident: str, created: int) -> bytes:
        reply = replies[0]
        return orjson.dumps(
            {
                "id": ident,
                "type": "message",
                "role": "assistant",
                "model": chat.model,
                "content": self._blocks(reply),
                "stop_reason": self.finish[reply.finish],
                "stop_sequence": reply.stop_sequence,
                "usage": self._usage(chat, reply.tokens),
            }
        )

    def _usage(self, chat: Chat, output: int) -> dict[str, Any]:
        return {
            "input_tokens": chat.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output,
        }

    def events(
        self, chat: Chat, replies: Sequence[text.Reply], ident: str, created: int
    ) -> tuple[list[bytes], list[float]]:
        reply = replies[0]
        message = {"id": ident, "type": "message", "role": "assistant", "model": chat.model}
        message |= {"content": [], "stop_reason": None, "stop_sequence": None}
        message["usage"] = self._usage(chat, 1)
        events = [named_event("message_start", {"type": "message_start", "message": message})]
        weights: list[float] = [0]
        for index, block in enumerate(self._blocks(reply)):
            if block["type"] == "text":
                start: dict[str, Any] = {"type": "text", "text": ""}
                kind, key, pieces = "text_delta", "text", _pieces(block["text"])
            else:
                start = {**block, "input": {}}
                arguments = next(c.arguments for c in reply.tool_calls if c.id == block["id"])
                kind, key, pieces = "input_json_delta", "partial_json", _pieces(arguments, 12)
            head = {"type": "content_block_start", "index": index, "content_block": start}
            events.append(named_event("content_block_start", head))
            weights.append(0)
            if index == 0:
                events.append(named_event("ping", {"type": "ping"}))
                weights.append(0)
            for piece in pieces:
                delta = {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": kind, key: piece},
                }
                events.append(named_event("content_block_delta", delta))
                weights.append(reply.tokens / len(pieces))
            stop = {"type": "content_block_stop", "index": index}
            events.append(named_event("content_block_stop", stop))
            weights.append(0)
        finish = {"stop_reason": self.finish[reply.finish], "stop_sequence": reply.stop_sequence}
        usage = {"output_tokens": reply.tokens}
        events.append(
            named_event("message_delta", {"type": "message_delta", "delta": finish, "usage": usage})
        )
        events.append(named_event("message_stop", {"type": "message_stop"}))
        weights += [0, 0]
        return events, weights


Wire = OpenAIWire | AnthropicWire


# -- embeddings and models ----------------------------------------------------------------


def _embeddings(body: Any, seed: int, wrong_usage: bool) -> bytes:
    body = _object(body)
    model = _model(body)
    value = body.get("input")
    inputs: list[Any] = value if isinstance(value, list) and value else [value]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        inputs = [value]  # one input given as token ids
    valid = all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(t, int) for t in v))
        for v in inputs
    )
    if not valid or not inputs:
        raise Refusal(400, "input: a string, an array of strings or of token arrays", "input")
    largest = EMBEDDING_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    dimensions = _integer(body, "dimensions", largest) or largest
    as_base64 = body.get("encoding_format") == "base64"
    data, tokens = [], 0
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            tokens += count_text(item, model).tokens
        else:
            tokens, item = tokens + len(item), " ".join(map(str, item))
        vector: Any = text.embedding_vector(item, model, seed, dimensions)
        if as_base64:
            vector = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    reported = tokens * 2 + 1 if wrong_usage else tokens
    usage = {"prompt_tokens": reported, "total_tokens": reported}
    return orjson.dumps({"object": "list", "data": data, "model": model, "usage": usage})


def _models(anthropic: bool, now: int) -> bytes:
    if anthropic:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        data = [
            {"type": "model", "id": name, "display_name": name, "created_at": stamp}
            for name in MODELS
            if name.startswith("claude")
        ]
        page = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"],
            "last_id": data[-1]["id"],
        }
        return orjson.dumps(page)
    owners = {"claude": "anthropic"}
    data = [
        {"id": name, "object": "model", "created": now, "owned_by": owners.get(name[:6], "openai")}
        for name in MODELS
    ]
    return orjson.dumps({"object": "list", "data": data})


# -- the server ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Knobs:
    latency_s: float
    tokens_per_second: float
    fault: str | None


class _ConnectionDropped(Exception):
    """Raised on purpose so that the server cuts the connection (``x-sim-error: drop``)."""


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], _ConnectionDropped))


_QUIET_DROPS = _QuietDrops()


class Simulator:
    def __init__(self, settings: SimulatorSettings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.clock = clock
        self.random = random.Random(settings.seed)  # noqa: S311 (a simulation)
        self.ids = itertools.count(1)
        self.id_prefix = os.urandom(4).hex()
        self.openai = OpenAIWire()
        self.anthropic = AnthropicWire()
        self.planned: dict[tuple[str, bytes], tuple[Chat, list[text.Reply]]] = {}

    async def chat_completions(self, request: Request) -> Response:
        return await self._chat(request, self.openai)

    async def messages(self, request: Request) -> Response:
        return await self._chat(request, self.anthropic)

    async def embeddings(self, request: Request) -> Response:
        try:
            knobs = self._admit(request, self.openai)
            body = _json(await request.body())
            content = _embeddings(body, self.settings.seed, knobs.fault == "wrong-usage")
        except Refusal as refusal:
            return self.refuse(self.openai, refusal)
        return await self._misbehave(knobs, self.openai) or self._respond(content, knobs.fault)

    async def models(self, request: Request) -> Response:
        anthropic = "anthropic-version" in request.headers
        wire: Wire = self.anthropic if anthropic else self.openai
        try:
            knobs = self._admit(request, wire)
        except Refusal as refusal:
            return self.refuse(wire, refusal)
        content = _models(anthropic, int(self.clock()))
        return await self._misbehave(knobs, wire) or self._respond(content, knobs.fault)

    async def _chat(self, request: Request, wire: Wire) -> Response:
        try:
            knobs = self._admit(request, wire)
            chat, replies = self._plan(await request.body(), wire)
        except Refusal as refusal:
            return self.refuse(wire, refusal)
        early = await self._misbehave(knobs, wire)
        if early is not None:
            return early
        if knobs.fault == "wrong-usage":
            replies = [replace(reply, tokens=reply.tokens * 2 + 1) for reply in replies]
        ident = f"{wire.id_prefix}{self.id_prefix}{next(self.ids):016x}"
        created = int(self.clock())
        if not chat.stream:
            return self._respond(wire.render(chat, replies, ident, created), knobs.fault)
        events, weights = wire.events(chat, replies, ident, created)
        stream = self._paced(events, weights, knobs, wire.malformed_event)
        return StreamingResponse(stream, media_type="text/event-stream")

    def _plan(self, body: bytes, wire: Wire) -> tuple[Chat, list[text.Reply]]:
        """The request and its replies: a pure function of the body, so small bodies seen
        recently are answered from a bounded cache (benchmarks repeat their requests)."""
        key = (wire.id_prefix, hashlib.blake2b(body, digest_size=16).digest())
        planned = self.planned.get(key)
        if planned is None:
            chat = wire.parse(_json(body))
            planned = chat, self._replies(chat, wire)
            if len(body) <= PLAN_CACHE_BODY_BYTES:
                if len(self.planned) >= PLAN_CACHE_ENTRIES:
                    del self.planned[next(iter(self.planned))]
                self.planned[key] = planned
        return planned

    def _replies(self, chat: Chat, wire: Wire) -> list[text.Reply]:
        key = [self.settings.seed, chat.seed, chat.system, chat.messages]
        digest = hashlib.blake2b(orjson.dumps(key, option=orjson.OPT_SORT_KEYS), digest_size=8)
        tool = text.choose_tool(
            chat.tools, chat.tool_mode, chat.tool_name, chat.prompt, chat.after_tool_result
        )
        return [
            text.plan_reply(
                model=chat.model,
                digest=int.from_bytes(digest.digest(), "big"),
                choice=index,
                prompt=chat.prompt,
                after_tool_result=chat.after_tool_result,
                tool=tool,
                json_schema=chat.json_schema,
                json_mode=chat.json_mode,
                max_tokens=chat.max_tokens,
                stops=chat.stops,
                tool_preface=wire.tool_preface and chat.tool_mode == "auto",
                call_id_prefix=wire.call_id_prefix,
            )
            for index in range(chat.n)
        ]

    def _admit(self, request: Request, wire: Wire) -> _Knobs:
        """Authenticate, then read the knobs (headers win over the server's settings)."""
        headers = request.headers
        authorization = headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
        if not bearer and not headers.get("x-api-key"):
            raise Refusal(401, "no API key: send a bearer token or x-api-key")
        settings = self.settings
        fault = headers.get("x-sim-error")
        if fault is not None and fault not in FAULTS:
            raise Refusal(400, f"x-sim-error: one of {', '.join(sorted(FAULTS))}", "x-sim-error")
        if fault is None and settings.error_rate and self.random.random() < settings.error_rate:
            fault = self.random.choice(_RANDOM_FAULTS)
        return _Knobs(
            _header_number(headers, "x-sim-latency-ms", settings.latency_ms) / 1000,
            _header_number(headers, "x-sim-tokens-per-second", settings.tokens_per_second),
            fault,
        )

    async def _misbehave(self, knobs: _Knobs, wire: Wire) -> Response | None:
        """Wait the latency, then answer the forced error or hang, if the knobs say so."""
        if knobs.latency_s:
            await asyncio.sleep(knobs.latency_s)
        fault = knobs.fault
        if fault == "429":
            refusal = Refusal(429, "simulated rate limit: retry after 1 s")
            return self.refuse(wire, refusal, {"retry-after": "1", "retry-after-ms": "1000"})
        if fault in ("500", "503"):
            return self.refuse(wire, Refusal(int(fault), f"simulated {fault} error"))
        if fault == "timeout":
            late = Refusal(504, "simulated timeout: the client did not give up")
            return _Hang(self.settings.max_hang_s, wire.error_body(late))
        return None

    def _respond(self, content: bytes, fault: str | None) -> Response:
        if fault == "malformed":
            return Response(content[: len(content) // 2], media_type=_JSON)
        if fault == "drop":
            return _DroppedResponse(content, media_type=_JSON)
        return Response(content, media_type=_JSON)

    def refuse(
        self, wire: Wire, refusal: Refusal, headers: Mapping[str, str] | None = None
    ) -> Response:
        return Response(wire.error_body(refusal), refusal.status, headers, _JSON)

    async def _paced(
        self, events: list[bytes], weights: list[float], knobs: _Knobs, malformed: bytes
    ) -> AsyncIterator[bytes]:
        """The events at ``tokens_per_second``; a drop or malformed chunk strikes halfway."""
        loop = asyncio.get_running_loop()
        start, sent = loop.time(), 0.0
        halfway = len(events) // 2
        for index, event in enumerate(events):
            if index == halfway and knobs.fault == "drop":
                raise _ConnectionDropped("simulated dropped connection")
            if index == halfway and knobs.fault == "malformed":
                yield malformed
            if knobs.tokens_per_second and weights[index]:
                sent += weights[index]
                delay = start + sent / knobs.tokens_per_second - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            yield event


class _DroppedResponse(Response):
    """Announces the whole body, sends half, then has the server cut the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        half = self.body[: len(self.body) // 2]
        await send({"type": "http.response.body", "body": half, "more_body": True})
        raise _ConnectionDropped("simulated dropped connection")


class _Hang(Response):
    """Sends nothing until the client disconnects; after ``seconds``, a 504."""

    def __init__(self, seconds: float, late_body: bytes) -> None:
        super().__init__(late_body, 504, media_type=_JSON)
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(self.seconds):
                while (await receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            await super().__call__(scope, receive, send)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Refusal(400, f"the body is not valid JSON: {exc}") from None


def _header_number(headers: Mapping[str, str], name: str, default: float) -> float:
    raw = headers.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # negative, unreadable or NaN
        raise Refusal(400, f"{name}: a number >= 0 is required", name)
    return value


def create_simulator(
    settings: SimulatorSettings | None = None, *, clock: Callable[[], float] = time.time
) -> Starlette:
    """The simulated provider as an ASGI app (``clock``: seconds since the epoch)."""
    simulator = Simulator(settings or SimulatorSettings(), clock)
    logger = logging.getLogger("uvicorn.error")
    if _QUIET_DROPS not in logger.filters:
        logger.addFilter(_QUIET_DROPS)
    routes = [
        Route("/v1/chat/completions", simulator.chat_completions, methods=["POST"]),
        Route("/v1/messages", simulator.messages, methods=["POST"]),
        Route("/v1/embeddings", simulator.embeddings, methods=["POST"]),
        Route("/v1/models", simulator.models, methods=["GET"]),
    ]

    async def not_routed(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        wire: Wire = simulator.anthropic if request.url.path == "/v1/messages" else simulator.openai
        refusal = Refusal(status, f"{request.method} {request.url.path}: no such endpoint")
        return simulator.refuse(wire, refusal)

    app = Starlette(routes=routes, exception_handlers={404: not_routed, 405: not_routed})
    app.state.simulator = simulator
    return app


@contextmanager
def running_simulator(host: str = "127.0.0.1", **knobs: Any) -> Iterator[str]:
    """Serve a simulator over real HTTP (uvicorn) on a free port in a background thread, and
    yield its base URL, ``http://127.0.0.1:PORT`` (OpenAI clients add ``/v1``). ``knobs`` are
    ``SimulatorSettings`` fields; unset ones are those of a perfect upstream."""
    import uvicorn

    app = create_simulator(SimulatorSettings(**knobs))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError("the simulated provider did not start")
        time.sleep(0.005)
    try:
        yield f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
