"""Streams from one API's shape to the other's, one parsed upstream event at a time.

Each translator is fed the upstream's events in order and returns the client's events for
each; ``finish()`` is called once when the upstream stream ends, however it ends. Both keep
what they need to bill a stream that stops early: ``usage`` (the upstream's report so far, or
``None``), ``output_text`` (the text and tool arguments streamed so far, to count tokens from)
and ``complete`` (whether the upstream said the answer was finished).

Both read tolerantly: events, blocks and fields they do not know are skipped (Anthropic's
``ping`` and thinking blocks, for instance). An upstream ``error`` event is kept in ``error``
for the gateway to report; it produces no client event.
"""

from __future__ import annotations

from typing import Any

from thrifty.providers.translate_request import JSON, dump_arguments
from thrifty.providers.translate_response import (
    finish_reason_from_anthropic,
    stop_reason_from_openai,
)
from thrifty.providers.usage import (
    Usage,
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)


def _dict(value: Any) -> JSON:
    return value if isinstance(value, dict) else {}


class AnthropicToOpenAIStream:
    """Anthropic Messages stream events → OpenAI chat completion chunks."""

    def __init__(self, model: str, chat_id: str, created: int, include_usage: bool = False):
        self.model = model
        self.chat_id = chat_id
        self.created = created
        self.include_usage = include_usage
        self.finish_reason: str | None = None
        self.complete = False
        self.error: JSON | None = None
        self._usage_report: JSON = {}
        self._output: list[str] = []
        self._started = False
        self._usage_sent = False
        self._tool_indexes: dict[Any, int] = {}  # Anthropic block index → OpenAI tool index

    @property
    def usage(self) -> Usage | None:
        return usage_from_anthropic(self._usage_report) if self._usage_report else None

    @property
    def output_text(self) -> str:
        return "".join(self._output)

    def feed(self, event_type: str, data: Any) -> list[JSON]:
        data = _dict(data)
        if event_type == "message_start":
            message = _dict(data.get("message"))
            self._merge_usage(message.get("usage"))
            return self._start()
        if event_type == "content_block_start":
            return self._block_start(data.get("index"), _dict(data.get("content_block")))
        if event_type == "content_block_delta":
            return self._block_delta(data.get("index"), _dict(data.get("delta")))
        if event_type == "message_delta":
            self._merge_usage(data.get("usage"))
            stop_reason = _dict(data.get("delta")).get("stop_reason")
            if stop_reason is None or self.finish_reason is not None:
                return []
            self.finish_reason = finish_reason_from_anthropic(stop_reason)
            return [*self._start(), self._chunk({}, self.finish_reason)]
        if event_type == "message_stop":
            self.complete = True
            return self._usage_chunk()
        if event_type == "error":
            self.error = _dict(data.get("error")) or data
        return []

    def finish(self) -> list[JSON]:
        """The closing chunks: the usage chunk (when asked for) if it was not sent yet. A stream
        cut before its end gets no invented ``finish_reason`` (see ``complete``)."""
        return self._usage_chunk()

    def _merge_usage(self, usage: Any) -> None:
        # message_start reports the input; message_delta the cumulative output (and, in newer
        # API versions, cumulative input figures too).
        for key, value in _dict(usage).items():
            if value is not None:
                self._usage_report[key] = value

    def _chunk(self, delta: JSON, finish_reason: str | None = None) -> JSON:
        chunk: JSON = {
            "id": self.chat_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if self.include_usage:
            chunk["usage"] = None  # as OpenAI does: every chunk but the last has usage null
        return chunk

    def _start(self) -> list[JSON]:
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, index: Any, block: JSON) -> list[JSON]:
        if block.get("type") == "text":
            return self._text(block.get("text"))
        if block.get("type") != "tool_use":
            return []
        tool_index = self._tool_indexes.setdefault(index, len(self._tool_indexes))
        initial = block.get("input")
        arguments = dump_arguments(initial) if isinstance(initial, dict) and initial else ""
        self._output.append(arguments)
        call = {
            "index": tool_index,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": arguments},
        }
        return [*self._start(), self._chunk({"tool_calls": [call]})]

    def _block_delta(self, index: Any, delta: JSON) -> list[JSON]:
        if delta.get("type") == "text_delta":
            return self._text(delta.get("text"))
        fragment = delta.get("partial_json")
        if delta.get("type") != "input_json_delta" or index not in self._tool_indexes:
            return []
        if not isinstance(fragment, str) or not fragment:
            return []
        self._output.append(fragment)
        call = {"index": self._tool_indexes[index], "function": {"arguments": fragment}}
        return [*self._start(), self._chunk({"tool_calls": [call]})]

    def _text(self, text: Any) -> list[JSON]:
        if not isinstance(text, str) or not text:
            return []
        self._output.append(text)
        return [*self._start(), self._chunk({"content": text})]

    def _usage_chunk(self) -> list[JSON]:
        usage = self.usage
        if not self.include_usage or self._usage_sent or usage is None:
            return []
        self._usage_sent = True
        return [
            {
                "id": self.chat_id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage_to_openai(usage),
            }
        ]


class OpenAIToAnthropicStream:
    """OpenAI chat completion chunks → Anthropic Messages stream events ``(name, data)``.

    OpenAI reports usage only at the very end (in the chunk with empty ``choices``), so the
    ``message_delta`` carrying ``stop_reason`` and usage is sent by ``finish()``."""

    def __init__(self, model: str, message_id: str, *, input_tokens: int = 0) -> None:
        self.model = model
        self.message_id = message_id
        self.input_tokens = input_tokens  # what message_start shows before the real count
        self.stop_reason: str | None = None
        self.complete = False
        self.error: JSON | None = None
        self.usage: Usage | None = None
        self._output: list[str] = []
        self._started = False
        self._closed = False
        self._blocks = 0  # Anthropic content blocks opened so far
        self._open: int | None = None  # the index of the open block
        self._text_block: int | None = None  # the open block, when it is text
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool call index → Anthropic block
        self._last_tool: int | None = None
        self._tool_ids: dict[str, int] = {}

    @property
    def output_text(self) -> str:
        return "".join(self._output)

    def feed(self, chunk: Any) -> list[tuple[str, JSON]]:
        chunk = _dict(chunk)
        if chunk.get("error") is not None:
            self.error = _dict(chunk["error"]) or {"message": str(chunk["error"])}
            return []
        events = self._start()
        usage = usage_from_openai(chunk.get("usage"))
        if usage is not None:
            self.usage = usage
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            choice = _dict(choice)
            if choice.get("index", 0) != 0:
                continue  # one answer only (n=1 is what Anthropic clients can receive)
            delta = _dict(choice.get("delta"))
            for key in ("content", "refusal"):
                if isinstance(delta.get(key), str) and delta[key]:
                    events += self._text(delta[key])
            calls = delta.get("tool_calls")
            for call in calls if isinstance(calls, list) else []:
                events += self._tool_call(_dict(call))
            if choice.get("finish_reason") is not None:
                self.stop_reason = stop_reason_from_openai(choice["finish_reason"])
                self.complete = True
        return events

    def finish(self, usage: Usage | None = None) -> list[tuple[str, JSON]]:
        """Close the message: the open block's stop, ``message_delta`` (stop reason and usage)
        and ``message_stop``. ``usage`` stands in when the upstream reported none (the
        gateway's own count). A cut stream closes with ``stop_reason`` null."""
        if self._closed:
            return []
        self._closed = True
        events = [*self._start(), *self._close_block()]
        final = self.usage or usage
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                    "usage": usage_to_anthropic(final) if final else {"output_tokens": 0},
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _start(self) -> list[tuple[str, JSON]]:
        if self._started:
            return []
        self._started = True
        message: JSON = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _close_block(self) -> list[tuple[str, JSON]]:
        if self._open is None:
            return []
        index, self._open, self._text_block = self._open, None, None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _open_block(self, block: JSON) -> list[tuple[str, JSON]]:
        events = self._close_block()
        self._open = self._blocks
        self._blocks += 1
        start = {"type": "content_block_start", "index": self._open, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _delta(self, index: int, delta: JSON) -> tuple[str, JSON]:
        return (
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": delta},
        )

    def _text(self, text: str) -> list[tuple[str, JSON]]:
        events: list[tuple[str, JSON]] = []
        if self._text_block is None:
            events = self._open_block({"type": "text", "text": ""})
            self._text_block = self._open
        self._output.append(text)
        assert self._text_block is not None
        return [*events, self._delta(self._text_block, {"type": "text_delta", "text": text})]

    def _tool_call(self, call: JSON) -> list[tuple[str, JSON]]:
        index = call.get("index")
        call_id = call.get("id")
        if not isinstance(index, int) or isinstance(index, bool):
            # Some compatible servers omit the index: a new id is a new call.
            if call_id in self._tool_ids:
                index = self._tool_ids[call_id]
            elif call_id is not None or self._last_tool is None:
                index = len(self._tool_blocks)
            else:
                index = self._last_tool
        function = _dict(call.get("function"))
        events: list[tuple[str, JSON]] = []
        if index not in self._tool_blocks:
            block: JSON = {
                "type": "tool_use",
                "id": call_id or f"toolu_{self.message_id}_{index}",
                "name": function.get("name") or "",
                "input": {},
            }
            events = self._open_block(block)
            assert self._open is not None
            self._tool_blocks[index] = self._open
            self._last_tool = index
            if isinstance(call_id, str):
                self._tool_ids[call_id] = index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # A fragment of an earlier call (rare: OpenAI streams calls one after another)
            # goes to that call's block, though it was stopped.
            self._output.append(arguments)
            delta = {"type": "input_json_delta", "partial_json": arguments}
            events.append(self._delta(self._tool_blocks[index], delta))
        return events
