"""Complete (non-streamed) responses from one API's shape to the other's.

Upstream responses are read tolerantly: block and field kinds this module does not know are
skipped, so a provider adding one does not break the gateway. Only a response that is not an
object at all is refused.
"""

from __future__ import annotations

import json
from typing import Any

from thrifty.providers.translate_request import JSON, dump_arguments, expect_dict
from thrifty.providers.usage import (
    usage_from_anthropic,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)

FINISH_REASON_FROM_ANTHROPIC = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
STOP_REASON_FROM_OPENAI = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def finish_reason_from_anthropic(stop_reason: Any) -> str | None:
    if stop_reason is None:
        return None
    return FINISH_REASON_FROM_ANTHROPIC.get(stop_reason, "stop")


def stop_reason_from_openai(finish_reason: Any) -> str | None:
    if finish_reason is None:
        return None
    return STOP_REASON_FROM_OPENAI.get(finish_reason, "end_turn")


def parse_tool_input(arguments: Any) -> JSON:
    """Tool arguments from an OpenAI-compatible model as an Anthropic ``input`` object. Models
    sometimes emit invalid JSON (cut off at the token limit): it is kept, under ``_raw``."""
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def anthropic_response_to_openai(resp: Any, *, model: str, created: int) -> JSON:
    """An Anthropic message as an OpenAI chat completion (one choice)."""
    resp = expect_dict(resp, "response")
    texts: list[str] = []
    calls: list[JSON] = []
    for block in resp.get("content") or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": dump_arguments(block.get("input") or {}),
                    },
                }
            )
    message: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = calls
    result: JSON = {
        "id": resp.get("id"),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason_from_anthropic(resp.get("stop_reason")) or "stop",
            }
        ],
    }
    usage = usage_from_anthropic(resp.get("usage"))
    if usage is not None:
        result["usage"] = usage_to_openai(usage)
    return result


def openai_response_to_anthropic(resp: Any, *, model: str, message_id: str) -> JSON:
    """An OpenAI chat completion (its first choice) as an Anthropic message."""
    resp = expect_dict(resp, "response")
    choices = resp.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message") if isinstance(choice, dict) else None
    message = message if isinstance(message, dict) else {}
    content: list[JSON] = []
    text = message.get("content")
    if isinstance(text, list):  # some compatible servers answer with parts
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if not text and isinstance(message.get("refusal"), str):
        text = message["refusal"]
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id"),
                "name": function.get("name"),
                "input": parse_tool_input(function.get("arguments")),
            }
        )
    finish_reason = choice.get("finish_reason") if isinstance(choice, dict) else None
    usage = usage_from_openai(resp.get("usage"))
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason_from_openai(finish_reason) or "end_turn",
        "stop_sequence": None,
        "usage": usage_to_anthropic(usage) if usage else {"input_tokens": 0, "output_tokens": 0},
    }
