"""YAML parsing that remembers where every key and item came from.

Validation errors then name the file and line, not just the key path. Numbers with a fraction
are read as ``Decimal`` straight from their text, so a price written as ``2.5`` never passes
through a float.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from thrifty.errors import ConfigError

Path = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass
class YamlDocument:
    """Parsed data plus the line (1-based) of each key path."""

    data: Any
    source: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of the longest prefix of ``path`` that was seen."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class _Loader(yaml.SafeLoader):
    pass


def _construct_decimal(loader: _Loader, node: yaml.ScalarNode) -> Decimal | float:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        value = Decimal(text)
    except InvalidOperation:  # .inf, .nan: let validation refuse them by name
        return float(loader.construct_yaml_float(node))
    return value


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], loader: _Loader) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in result:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            child = (*path, key)
            result[key] = _walk(value_node, child, lines, loader)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document; a syntax error becomes a ConfigError naming file and line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        data = _walk(node, (), lines, loader) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ConfigError(f"{where}: {exc.problem or exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}") from None
    finally:
        loader.dispose()
    return YamlDocument(data=data, source=source, lines=lines)


def validate(schema: type[M], data: Any, document: YamlDocument) -> M:
    """Validate ``data`` against ``schema``; all errors in one ConfigError with lines."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error, schema, document) for error in exc.errors()]
        raise ConfigError("\n".join(problems)) from None


def _describe(error: Any, schema: type[BaseModel], document: YamlDocument) -> str:
    path: Path = tuple(error["loc"])
    location = where(document, path)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown key {path[-1]!r}"
        suggestion = _suggest(schema, path)
        if suggestion:
            message += f" (did you mean {suggestion!r}?)"
    return f"{location}: {dotted(path)}: {message}"


def _suggest(schema: type[BaseModel], path: Path) -> str | None:
    model: Any = schema
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", (annotation,))
        model = next((t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if model is None:
            return None
    matches = difflib.get_close_matches(str(path[-1]), list(model.model_fields), n=1)
    return matches[0] if matches else None


def where(document: YamlDocument, path: Path) -> str:
    line = document.line_of(path)
    return f"{document.source}:{line}" if line else document.source


def dotted(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top)"


def parse_data(schema: type[M], text: str, source: str) -> M:
    """Parse a YAML data file and validate it against ``schema`` (errors name the line)."""
    document = parse_yaml(text, source)
    return validate(schema, document.data if document.data is not None else {}, document)
