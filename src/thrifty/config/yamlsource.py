"""YAML parsing that remembers where every key and item came from.

Validation errors then name the file and line, not just the key path. Numbers with a fraction
are read as ``Decimal`` straight from their text, so a price written as ``2.5`` never passes
through a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from thrifty.errors import ConfigError

Path = tuple[str | int, ...]


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
