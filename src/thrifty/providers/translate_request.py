"""Requests from one API's shape to the other's: OpenAI Chat Completions ⇄ Anthropic Messages.

Malformed input raises ``InvalidInput`` naming the field path (``messages.3.content.1.type``).
The approximations are listed in ``thrifty.providers.translate``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, NoReturn

from thrifty.errors import InvalidInput

JSON = dict[str, Any]

#: Image types the Messages API accepts inline.
ANTHROPIC_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_DATA_URL = re.compile(r"data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)
_TOOL_CHOICE_TO_ANTHROPIC = {"auto": "auto", "none": "none", "required": "any"}
_TOOL_CHOICE_TO_OPENAI = {"auto": "auto", "none": "none", "any": "required"}
#: The user turn put before a conversation that starts with the assistant.
LEADING_USER_TEXT = "."
JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose, no code fences."
)


# -- validation helpers, shared by the translate_* modules ------------------------------------


def invalid(path: str, message: str) -> NoReturn:
    raise InvalidInput(f"{path}: {message}", field=path)


def expect_dict(value: Any, path: str) -> JSON:
    if not isinstance(value, dict):
        invalid(path, f"must be an object, not {_kind(value)}")
    return value


def expect_list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        invalid(path, f"must be an array, not {_kind(value)}")
    return value


def expect_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        invalid(path, f"must be a string, not {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "missing or null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _optional_int(body: JSON, key: str, *, minimum: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        invalid(key, f"must be an integer of at least {minimum}")
    return value


def _optional_number(body: JSON, key: str, low: float, high: float) -> float | int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        invalid(key, f"must be a number from {low:g} to {high:g}")
    return value


def _has_text(text: str) -> bool:
    # The Messages API refuses empty and whitespace-only text blocks.
    return bool(text.strip())


def _parse_arguments(arguments: Any, path: str) -> JSON:
    text = expect_str(arguments, path)
    if not text.strip():
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        invalid(path, "must be a JSON object encoded as a string")
    if not isinstance(parsed, dict):
        invalid(path, "must be a JSON object encoded as a string")
    return parsed


def dump_arguments(value: Any) -> str:
    """Tool arguments as OpenAI sends them: compact JSON, non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- OpenAI → Anthropic -----------------------------------------------------------------------


def openai_request_to_anthropic(body: Any, *, upstream_model: str, default_max_tokens: int) -> JSON:
    """An OpenAI chat completion request as an Anthropic Messages request."""
    body = expect_dict(body, "body")
    n = _optional_int(body, "n", minimum=1)
    if n is not None and n > 1:
        invalid("n", "Anthropic models answer one choice per request; send n=1 or omit n")
    if body.get("functions") is not None or body.get("function_call") is not None:
        invalid("functions", "legacy function calling is not supported; use tools")
    system, messages = _openai_messages(expect_list(body.get("messages"), "messages"))
    instruction = _response_format_instruction(body.get("response_format"))
    if instruction:
        system.append(instruction)

    result: JSON = {"model": upstream_model, "messages": messages}
    if system:
        result["system"] = "\n\n".join(system)
    max_tokens = _optional_int(body, "max_completion_tokens", minimum=1)
    if max_tokens is None:
        max_tokens = _optional_int(body, "max_tokens", minimum=1)
    result["max_tokens"] = default_max_tokens if max_tokens is None else max_tokens
    temperature = _optional_number(body, "temperature", 0, 2)
    if temperature is not None:
        result["temperature"] = min(temperature, 1.0)  # Anthropic's range ends at 1
    top_p = _optional_number(body, "top_p", 0, 1)
    if top_p is not None and temperature is None:
        # Recent Claude models refuse both at once; temperature is the one clients tune.
        result["top_p"] = top_p
    stop = body.get("stop")
    if isinstance(stop, str):
        result["stop_sequences"] = [stop]
    elif stop is not None:
        result["stop_sequences"] = [
            expect_str(s, f"stop.{i}") for i, s in enumerate(expect_list(stop, "stop"))
        ]
    if body.get("stream") is not None:
        if not isinstance(body["stream"], bool):
            invalid("stream", "must be a boolean")
        result["stream"] = body["stream"]
    for key in ("user", "safety_identifier"):  # the latter replaces ``user`` in OpenAI's API
        if body.get(key) is not None:
            result["metadata"] = {"user_id": expect_str(body[key], key)}
            break
    _openai_tools(body, result)
    return result


def _openai_messages(messages: list[Any]) -> tuple[list[str], list[JSON]]:
    system: list[str] = []
    turns: list[JSON] = []
    for i, message in enumerate(messages):
        path = f"messages.{i}"
        message = expect_dict(message, path)
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(t for t in _texts(message.get("content"), f"{path}.content") if t)
        elif role == "user":
            _append_turn(turns, "user", _user_blocks(message.get("content"), f"{path}.content"))
        elif role == "assistant":
            _append_turn(turns, "assistant", _assistant_blocks(message, path))
        elif role == "tool":
            _append_turn(turns, "user", [_tool_result(message, path)])
        elif role == "function":
            invalid(f"{path}.role", "legacy function messages are not supported; use role 'tool'")
        else:
            invalid(
                f"{path}.role",
                f"unknown role {role!r}; expected system, developer, user, assistant or tool",
            )
    if not turns:
        invalid("messages", "needs at least one user or assistant message with content")
    if turns[0]["role"] == "assistant":
        # The Messages API wants a user turn first; OpenAI allows an assistant first.
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": LEADING_USER_TEXT}]})
    for turn in turns:
        blocks = turn["content"]
        if len(blocks) == 1 and blocks[0]["type"] == "text":
            turn["content"] = blocks[0]["text"]
    return system, turns


def _append_turn(turns: list[JSON], role: str, blocks: list[JSON]) -> None:
    """The Messages API wants roles to alternate: consecutive turns of one role are merged."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _texts(content: Any, path: str) -> list[str]:
    """The texts of a content that may only hold text (system, developer, tool)."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        invalid(path, f"must be a string or an array of text parts, not {_kind(content)}")
    texts = []
    for j, part in enumerate(content):
        part = expect_dict(part, f"{path}.{j}")
        if part.get("type") != "text":
            invalid(f"{path}.{j}.type", "only text parts are allowed here")
        texts.append(expect_str(part.get("text"), f"{path}.{j}.text"))
    return texts


def _text_block(text: str) -> list[JSON]:
    return [{"type": "text", "text": text}] if _has_text(text) else []


def _user_blocks(content: Any, path: str) -> list[JSON]:
    if isinstance(content, str):
        return _text_block(content)
    if not isinstance(content, list):
        invalid(path, f"must be a string or an array of content parts, not {_kind(content)}")
    blocks: list[JSON] = []
    for j, part in enumerate(content):
        part_path = f"{path}.{j}"
        part = expect_dict(part, part_path)
        kind = part.get("type")
        if kind == "text":
            blocks += _text_block(expect_str(part.get("text"), f"{part_path}.text"))
        elif kind == "image_url":
            blocks.append(_image_block(part.get("image_url"), f"{part_path}.image_url"))
        elif kind == "file":
            blocks.append(_document_block(part.get("file"), f"{part_path}.file"))
        elif kind == "input_audio":
            invalid(f"{part_path}.type", "audio input cannot be sent to an Anthropic model")
        else:
            invalid(
                f"{part_path}.type",
                f"unknown content part type {kind!r}; expected text, image_url or file",
            )
    return blocks


def _image_block(image: Any, path: str) -> JSON:
    url = image if isinstance(image, str) else expect_dict(image, path).get("url")
    url = expect_str(url, f"{path}.url")
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    match = _DATA_URL.fullmatch(url)
    if match is None:
        invalid(f"{path}.url", "must be an http(s) URL or a base64 data: URL")
    if match["media"] not in ANTHROPIC_IMAGE_TYPES:
        invalid(
            f"{path}.url",
            f"image type {match['media']} is not one of "
            + ", ".join(sorted(ANTHROPIC_IMAGE_TYPES)),
        )
    source = {"type": "base64", "media_type": match["media"], "data": match["data"]}
    return {"type": "image", "source": source}


def _document_block(file: Any, path: str) -> JSON:
    file = expect_dict(file, path)
    if file.get("file_id") is not None:
        invalid(
            f"{path}.file_id",
            "uploaded OpenAI files cannot be sent to an Anthropic model; send file_data",
        )
    match = _DATA_URL.fullmatch(expect_str(file.get("file_data"), f"{path}.file_data"))
    if match is None or match["media"] != "application/pdf":
        invalid(f"{path}.file_data", "must be a base64 data: URL of a PDF")
    block: JSON = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": match["data"]},
    }
    if isinstance(file.get("filename"), str):
        block["title"] = file["filename"]
    return block


def _assistant_blocks(message: JSON, path: str) -> list[JSON]:
    if message.get("function_call") is not None:
        invalid(f"{path}.function_call", "legacy function calls are not supported; use tool_calls")
    content = message.get("content")
    blocks: list[JSON] = []
    if isinstance(content, str):
        blocks += _text_block(content)
    elif content is not None:
        for j, part in enumerate(expect_list(content, f"{path}.content")):
            part = expect_dict(part, f"{path}.content.{j}")
            kind = part.get("type")
            if kind not in ("text", "refusal"):
                invalid(
                    f"{path}.content.{j}.type",
                    f"unknown assistant content part type {kind!r}; expected text or refusal",
                )
            blocks += _text_block(expect_str(part.get(kind), f"{path}.content.{j}.{kind}"))
    elif isinstance(message.get("refusal"), str):
        blocks += _text_block(message["refusal"])
    for k, call in enumerate(expect_list(message.get("tool_calls") or [], f"{path}.tool_calls")):
        call_path = f"{path}.tool_calls.{k}"
        call = expect_dict(call, call_path)
        if call.get("type", "function") != "function":
            invalid(f"{call_path}.type", "only function tool calls are supported")
        function = expect_dict(call.get("function"), f"{call_path}.function")
        blocks.append(
            {
                "type": "tool_use",
                "id": expect_str(call.get("id"), f"{call_path}.id"),
                "name": expect_str(function.get("name"), f"{call_path}.function.name"),
                "input": _parse_arguments(
                    function.get("arguments"), f"{call_path}.function.arguments"
                ),
            }
        )
    return blocks


def _tool_result(message: JSON, path: str) -> JSON:
    block: JSON = {
        "type": "tool_result",
        "tool_use_id": expect_str(message.get("tool_call_id"), f"{path}.tool_call_id"),
    }
    content = message.get("content")
    if isinstance(content, str):
        if content:
            block["content"] = content
    else:
        texts = _texts(content, f"{path}.content")
        block["content"] = [{"type": "text", "text": t} for t in texts if _has_text(t)]
    return block


def _response_format_instruction(response_format: Any) -> str | None:
    """JSON modes have no Messages API twin: an instruction in the system prompt asks for them
    (an approximation: the model is asked, not constrained)."""
    if response_format is None:
        return None
    response_format = expect_dict(response_format, "response_format")
    kind = response_format.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return JSON_OBJECT_INSTRUCTION
    if kind == "json_schema":
        spec = expect_dict(response_format.get("json_schema"), "response_format.json_schema")
        schema = expect_dict(spec.get("schema", {}), "response_format.json_schema.schema")
        return (
            "Respond with a single valid JSON value that conforms to this JSON Schema, and "
            "nothing else: no prose, no code fences.\n" + json.dumps(schema, ensure_ascii=False)
        )
    invalid(
        "response_format.type",
        f"unknown response format {kind!r}; expected text, json_object or json_schema",
    )


def _openai_tools(body: JSON, result: JSON) -> None:
    tools = []
    for i, tool in enumerate(expect_list(body.get("tools") or [], "tools")):
        tool = expect_dict(tool, f"tools.{i}")
        if tool.get("type") != "function":
            invalid(f"tools.{i}.type", "only function tools can be sent to an Anthropic model")
        function = expect_dict(tool.get("function"), f"tools.{i}.function")
        converted: JSON = {"name": expect_str(function.get("name"), f"tools.{i}.function.name")}
        if function.get("description") is not None:
            converted["description"] = expect_str(
                function["description"], f"tools.{i}.function.description"
            )
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        converted["input_schema"] = expect_dict(parameters, f"tools.{i}.function.parameters")
        tools.append(converted)
    if not tools:
        return  # a tool_choice without tools means nothing
    result["tools"] = tools
    choice = body.get("tool_choice")
    converted_choice: JSON
    if choice is None:
        converted_choice = {"type": "auto"}
    elif isinstance(choice, str):
        if choice not in _TOOL_CHOICE_TO_ANTHROPIC:
            invalid("tool_choice", "must be auto, none, required or a named function")
        converted_choice = {"type": _TOOL_CHOICE_TO_ANTHROPIC[choice]}
    else:
        function = expect_dict(
            expect_dict(choice, "tool_choice").get("function"), "tool_choice.function"
        )
        name = expect_str(function.get("name"), "tool_choice.function.name")
        converted_choice = {"type": "tool", "name": name}
    if body.get("parallel_tool_calls") is False and converted_choice["type"] != "none":
        converted_choice["disable_parallel_tool_use"] = True
    if choice is not None or "disable_parallel_tool_use" in converted_choice:
        result["tool_choice"] = converted_choice


# -- Anthropic → OpenAI -----------------------------------------------------------------------


def anthropic_request_to_openai(
    body: Any,
    *,
    upstream_model: str,
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_completion_tokens",
) -> JSON:
    """An Anthropic Messages request as an OpenAI chat completion request.

    ``max_tokens_field``: OpenAI's own API wants ``max_completion_tokens`` (its reasoning models
    refuse ``max_tokens``); some OpenAI-compatible servers only know ``max_tokens``."""
    body = expect_dict(body, "body")
    messages: list[JSON] = []
    system = body.get("system")
    if system is not None:
        text = "\n\n".join(_anthropic_texts(system, "system"))
        if text:
            messages.append({"role": "system", "content": text})
    for i, message in enumerate(expect_list(body.get("messages"), "messages")):
        messages += _anthropic_message(expect_dict(message, f"messages.{i}"), f"messages.{i}")

    result: JSON = {"model": upstream_model, "messages": messages}
    max_tokens = _optional_int(body, "max_tokens", minimum=1)
    if max_tokens is not None:
        result[max_tokens_field] = max_tokens
    for key, high in (("temperature", 1), ("top_p", 1)):
        value = _optional_number(body, key, 0, high)
        if value is not None:
            result[key] = value
    stops = body.get("stop_sequences")
    if stops:
        result["stop"] = [
            expect_str(s, f"stop_sequences.{i}")
            for i, s in enumerate(expect_list(stops, "stop_sequences"))
        ]
    if body.get("stream") is True:
        result["stream"] = True
        result["stream_options"] = {"include_usage": True}  # the gateway bills from it
    metadata = body.get("metadata")
    if metadata is not None and expect_dict(metadata, "metadata").get("user_id") is not None:
        result["user"] = expect_str(metadata["user_id"], "metadata.user_id")
    _anthropic_tools(body, result)
    return result


def _anthropic_texts(content: Any, path: str) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts = []
    for j, block in enumerate(expect_list(content, path)):
        block = expect_dict(block, f"{path}.{j}")
        if block.get("type") != "text":
            invalid(f"{path}.{j}.type", "only text blocks are allowed here")
        texts.append(expect_str(block.get("text"), f"{path}.{j}.text"))
    return texts


def _anthropic_message(message: JSON, path: str) -> list[JSON]:
    role = message.get("role")
    content = message.get("content")
    if role not in ("user", "assistant"):
        invalid(f"{path}.role", f"unknown role {role!r}; expected user or assistant")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = expect_list(content, f"{path}.content")
    if role == "assistant":
        return _anthropic_assistant(blocks, f"{path}.content")
    tool_messages: list[JSON] = []
    parts: list[JSON] = []
    for j, block in enumerate(blocks):
        block_path = f"{path}.content.{j}"
        block = expect_dict(block, block_path)
        kind = block.get("type")
        if kind == "tool_result":
            tool_messages.append(_openai_tool_message(block, block_path, parts))
        elif kind in ("text", "image", "document"):
            parts.append(_openai_part(block, block_path))
        else:
            invalid(
                f"{block_path}.type",
                f"content block type {kind!r} cannot be sent to an "
                "OpenAI-compatible model; expected text, image, document or tool_result",
            )
    result = tool_messages
    if parts:
        simple = len(parts) == 1 and parts[0]["type"] == "text"
        result.append({"role": "user", "content": parts[0]["text"] if simple else parts})
    return result


def _openai_part(block: JSON, path: str) -> JSON:
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": expect_str(block.get("text"), f"{path}.text")}
    source = expect_dict(block.get("source"), f"{path}.source")
    source_kind = source.get("type")
    if source_kind == "url" and kind == "image":
        url = expect_str(source.get("url"), f"{path}.source.url")
        return {"type": "image_url", "image_url": {"url": url}}
    if source_kind == "text" and kind == "document":
        return {"type": "text", "text": expect_str(source.get("data"), f"{path}.source.data")}
    if source_kind != "base64":
        invalid(
            f"{path}.source.type",
            f"{kind} source {source_kind!r} cannot be sent to an OpenAI-compatible model",
        )
    media = expect_str(source.get("media_type"), f"{path}.source.media_type")
    data_url = f"data:{media};base64,{expect_str(source.get('data'), f'{path}.source.data')}"
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": data_url}}
    file: JSON = {"file_data": data_url}
    file["filename"] = block["title"] if isinstance(block.get("title"), str) else "document.pdf"
    return {"type": "file", "file": file}


def _openai_tool_message(block: JSON, path: str, user_parts: list[JSON]) -> JSON:
    """A tool_result as a tool message; its images (a tool message holds only text) move to the
    user message that follows."""
    content = block.get("content")
    text: str | list[JSON]
    if content is None or isinstance(content, str):
        text = content or ""
    else:
        text = []
        for k, item in enumerate(expect_list(content, f"{path}.content")):
            item = expect_dict(item, f"{path}.content.{k}")
            if item.get("type") == "text":
                text.append(_openai_part(item, f"{path}.content.{k}"))
            elif item.get("type") == "image":
                user_parts.append(_openai_part(item, f"{path}.content.{k}"))
            else:
                invalid(f"{path}.content.{k}.type", "a tool result may hold text and images")
    if block.get("is_error") is True:
        text = "Error: " + (text if isinstance(text, str) else "".join(p["text"] for p in text))
    tool_call_id = expect_str(block.get("tool_use_id"), f"{path}.tool_use_id")
    return {"role": "tool", "tool_call_id": tool_call_id, "content": text}


def _anthropic_assistant(blocks: list[Any], path: str) -> list[JSON]:
    texts: list[str] = []
    calls: list[JSON] = []
    for j, block in enumerate(blocks):
        block = expect_dict(block, f"{path}.{j}")
        kind = block.get("type")
        if kind == "text":
            texts.append(expect_str(block.get("text"), f"{path}.{j}.text"))
        elif kind == "tool_use":
            arguments = dump_arguments(expect_dict(block.get("input"), f"{path}.{j}.input"))
            calls.append(
                {
                    "id": expect_str(block.get("id"), f"{path}.{j}.id"),
                    "type": "function",
                    "function": {
                        "name": expect_str(block.get("name"), f"{path}.{j}.name"),
                        "arguments": arguments,
                    },
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):  # reasoning stays with its model
            invalid(
                f"{path}.{j}.type",
                f"content block type {kind!r} cannot be sent to an OpenAI-compatible model",
            )
    if not texts and not calls:
        return []
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _anthropic_tools(body: JSON, result: JSON) -> None:
    tools = []
    for i, tool in enumerate(expect_list(body.get("tools") or [], "tools")):
        tool = expect_dict(tool, f"tools.{i}")
        if tool.get("type", "custom") != "custom":
            invalid(
                f"tools.{i}.type",
                f"server tool {tool.get('type')!r} cannot be sent to an OpenAI-compatible model",
            )
        function: JSON = {"name": expect_str(tool.get("name"), f"tools.{i}.name")}
        if tool.get("description") is not None:
            function["description"] = expect_str(tool["description"], f"tools.{i}.description")
        function["parameters"] = expect_dict(tool.get("input_schema"), f"tools.{i}.input_schema")
        tools.append({"type": "function", "function": function})
    if not tools:
        return
    result["tools"] = tools
    choice = body.get("tool_choice")
    if choice is None:
        return
    choice = expect_dict(choice, "tool_choice")
    kind = choice.get("type")
    if kind == "tool":
        name = expect_str(choice.get("name"), "tool_choice.name")
        result["tool_choice"] = {"type": "function", "function": {"name": name}}
    elif kind in _TOOL_CHOICE_TO_OPENAI:
        result["tool_choice"] = _TOOL_CHOICE_TO_OPENAI[kind]
    else:
        invalid("tool_choice.type", "must be auto, any, tool or none")
    if choice.get("disable_parallel_tool_use") is True and kind != "none":
        result["parallel_tool_calls"] = False
