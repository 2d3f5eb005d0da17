"""Translation between the OpenAI Chat Completions and Anthropic Messages APIs.

Pure functions over JSON-shaped dicts (no I/O, no clock: ids and times are parameters), so
an OpenAI client can be answered by an Anthropic model and an Anthropic client by an
OpenAI-compatible one. Requests: ``translate_request``; complete responses:
``translate_response``; streams: ``translate_stream``; usage: ``usage``.

Malformed client input raises ``InvalidInput`` whose ``field`` is the path of the offending
field (``messages.3.content.1.type``). Upstream responses are read tolerantly.

What cannot be said exactly in the other API is approximated, or refused when it cannot be
approximated honestly:

OpenAI request → Anthropic
  - system and developer messages, wherever they stand, become the one ``system`` prompt
    (paragraphs joined by a blank line, in order).
  - consecutive turns of one role are merged (Anthropic wants alternating roles); tool
    messages become ``tool_result`` blocks of a user turn. Empty and whitespace-only texts
    are dropped (Anthropic refuses them); a conversation left with no turn is refused.
  - ``response_format`` json_object / json_schema becomes an instruction appended to the
    system prompt: the model is asked for JSON, not constrained to it.
  - ``temperature`` above 1 is capped at 1 (Anthropic's range is 0–1, OpenAI's 0–2);
    ``top_p`` is sent only without ``temperature`` (recent Claude models refuse both).
  - a conversation that starts with the assistant gets a user turn "." first (Anthropic
    wants a user turn first).
  - ``n`` > 1, audio input, uploaded ``file_id`` files, non-function tools and legacy
    ``functions`` are refused; tool call ``arguments`` must be a JSON object ("" reads as {}).
  - dropped, having no twin: ``name`` on messages, image ``detail``, ``seed``,
    ``logprobs``, ``logit_bias``, penalties, ``reasoning_effort``, ``store``, ``metadata``,
    ``service_tier``, ``stream_options`` (Anthropic always streams usage).
Anthropic request → OpenAI
  - ``system`` becomes a leading system message; ``tool_result`` blocks become tool messages
    placed before the rest of their user turn; images in a tool result move to the user
    message that follows (tool messages hold text only); ``is_error`` prefixes "Error: ".
  - thinking blocks, ``cache_control``, ``top_k`` and ``thinking`` are dropped; server tools
    and block kinds OpenAI has no twin for are refused.
  - streaming requests ask for ``stream_options.include_usage`` (the gateway bills from it).
Responses
  - text blocks are concatenated without separator (Anthropic splits text at citations);
    thinking blocks are dropped. ``refusal`` ⇄ ``content_filter``.
  - OpenAI names no matched stop sequence: ``stop_sequence`` is always null.
  - invalid JSON in an OpenAI model's tool arguments is kept as ``{"_raw": "<text>"}``.
  - Anthropic clients always get a ``usage``; when the upstream reported none it is zeros.
"""

from __future__ import annotations

from thrifty.providers.translate_request import (
    anthropic_request_to_openai,
    openai_request_to_anthropic,
)
from thrifty.providers.translate_response import (
    anthropic_response_to_openai,
    openai_response_to_anthropic,
)
from thrifty.providers.translate_stream import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from thrifty.providers.usage import Usage

__all__ = [
    "AnthropicToOpenAIStream",
    "OpenAIToAnthropicStream",
    "Usage",
    "anthropic_request_to_openai",
    "anthropic_response_to_openai",
    "openai_request_to_anthropic",
    "openai_response_to_anthropic",
]
