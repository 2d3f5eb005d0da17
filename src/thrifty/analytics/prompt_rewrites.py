"""Deterministic rewrites of prompt text, and the waste each one finds.

Text is cut into segments first, so that a rewrite touches only what is safe to touch:

- ``code``: fenced blocks (```` ``` ```` or ``~~~``, to the closing fence or the end);
- ``json``: pretty-printed JSON, an object or array that starts a line, parses, and spans
  several lines (also inside a fence);
- ``prose``: everything else.

The rewrites (each a pure ``str -> str``; :data:`REWRITES`):

- ``collapse_whitespace``: trailing spaces everywhere; in prose, runs of spaces between words
  become one and two or more blank lines become one; blank lines at the start and whitespace
  at the end go. Leading indentation and tabs between words are kept (lists, tables).
- ``minify_json``: whitespace outside string literals removed from JSON segments, so values,
  key order and number spelling stay exactly as written.
- ``strip_decoration``: separator lines in prose (four or more of one of ``-=*_#~+─━═``) and
  runs of three or more asterisks (``***Note***`` becomes ``Note``); ``**bold**`` and headings
  stay.
- ``remove_filler``: sentence-initial politeness ("Please", "Kindly", "I would like you to" …)
  in prose. It changes wording, so it is offered but not counted as safe.

Duplicates are removed by :func:`thrifty.analytics.prompt_repeats.dedupe`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

SegmentKind = Literal["prose", "code", "json"]
Segment = tuple[SegmentKind, str]

#: raw_decode attempts per text: invalid JSON-looking lines cannot make the scan quadratic.
MAX_JSON_ATTEMPTS = 200
#: Texts up to this many characters have their segments remembered (each is cut many times).
MEMO_MAX_CHARS = 32_768
EXCERPT_CHARS = 80

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S)
_JSON_START = re.compile(r"^[ \t]*[\[{]", re.M)
_DECODER = json.JSONDecoder()
_JSON_SPACE = re.compile(r'("(?:[^"\\]|\\.)*")|[ \t\r\n]+')

# Every pattern starts a match only where a run starts (no quadratic backtracking on a long run
# of spaces or asterisks; a test feeds them such runs).
_TRAILING = re.compile(r"(?<![ \t])[ \t]+(?=\n|\Z)")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}(?=\S)")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n){2,}")
_LEADING_BLANK = re.compile(r"\A(?:[ \t]*\n)+")
_TAB_INDENT = re.compile(r"^\t+(?=\S)", re.M)
SEPARATOR_CHARS = "-=*_#~+─━═"
_SEPARATOR = re.compile(rf"[ \t]*([{SEPARATOR_CHARS}])(?:[ \t]*\1){{3,}}[ \t]*")
_SEPARATOR_LINE = re.compile(rf"^{_SEPARATOR.pattern}$", re.M)
_ASTERISKS = re.compile(r"(?<=[^*\s])\*{3,}(?!\*)|(?<!\*)\*{3,}(?=[^*\s])")
_FILLER = re.compile(
    r"(^[ \t]*|(?<=[.!?:])[ \t]+)"
    r"(?:please|kindly|i would like you to|i'd like you to|i want you to|"
    r"could you please|can you please|would you please)[ \t]+([a-z])",
    re.I | re.M,
)


def segments(text: str) -> tuple[Segment, ...]:
    """``text`` cut into code, JSON and prose segments (concatenated they give ``text``)."""
    return _segments(text) if len(text) <= MEMO_MAX_CHARS else _cut(text)


@lru_cache(maxsize=256)
def _segments(text: str) -> tuple[Segment, ...]:
    return _cut(text)


def _cut(text: str) -> tuple[Segment, ...]:
    found: list[Segment] = []
    position = 0
    for fence in _FENCE.finditer(text):
        found.extend(_split_json(text[position : fence.start()], "prose"))
        found.extend(_split_json(fence.group(0), "code"))
        position = fence.end()
    found.extend(_split_json(text[position:], "prose"))
    return tuple(segment for segment in found if segment[1])


def _split_json(text: str, kind: SegmentKind) -> list[Segment]:
    pieces: list[Segment] = []
    position = attempts = 0
    for start_match in _JSON_START.finditer(text):
        start = start_match.end() - 1
        if start < position:
            continue
        attempts += 1
        if attempts > MAX_JSON_ATTEMPTS:
            break
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to be worth it
            continue
        if isinstance(value, dict | list) and value and "\n" in text[start:end]:
            pieces.extend(((kind, text[position:start]), ("json", text[start:end])))
            position = end
    pieces.append((kind, text[position:]))
    return pieces


def _on(
    kinds: frozenset[SegmentKind], fix: Callable[[str], str], probe: Callable[[str], bool]
) -> Callable[[str], str]:
    """A rewrite of the whole text that applies ``fix`` to the segments of ``kinds`` only;
    ``probe`` is a cheap test that the text may need it (most texts need no pass at all)."""

    def apply(text: str) -> str:
        if not probe(text):
            return text
        return "".join(fix(part) if kind in kinds else part for kind, part in segments(text))

    return apply


PROSE: frozenset[SegmentKind] = frozenset({"prose"})
JSON_ONLY: frozenset[SegmentKind] = frozenset({"json"})
EVERYWHERE: frozenset[SegmentKind] = frozenset({"prose", "code", "json"})


def _edges(text: str) -> str:
    return _LEADING_BLANK.sub("", text).rstrip()


def _drop_separators(text: str) -> str:
    """Separator lines removed; a blank line stays where one separated two lines of text."""
    lines = text.split("\n")
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if not _SEPARATOR.fullmatch(line):
            kept.append(line)
            index += 1
            continue
        after = lines[index + 1] if index + 1 < len(lines) else None
        before_blank = not kept or not kept[-1].strip()
        after_blank = after is None or not after.strip()
        if before_blank and after is not None and after_blank:
            index += 2  # the separator and one of the blank lines around it
            continue
        if not before_blank and not after_blank:
            kept.append("")
        index += 1
    return "\n".join(kept)


def _fix_filler(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2).upper()


def _minify(text: str) -> str:
    return _JSON_SPACE.sub(lambda m: m.group(1) or "", text)


def _may_trail(text: str) -> bool:
    return " \n" in text or "\t\n" in text or text.endswith((" ", "\t"))


def _may_separate(text: str) -> bool:
    return any(c * 4 in text or f"{c} {c} {c} {c}" in text for c in SEPARATOR_CHARS)


def _may_fill(text: str) -> bool:
    lower = text.lower()
    return any(word in lower for word in ("please", "kindly", "like you to", "want you to"))


def _may_be_json(text: str) -> bool:
    return "{" in text or "[" in text


def _always(text: str) -> bool:
    return True


_PROBES: dict[str, Callable[[str], bool]] = {
    "trailing_whitespace": _always,
    "extra_spaces": lambda s: "  " in s,
    "blank_lines": lambda s: _BLANK_LINES.search(s) is not None,
    "tab_indentation": lambda s: "\t" in s,
    "separator_lines": _may_separate,
    "markdown_decoration": lambda s: "***" in s,
    "politeness_filler": _may_fill,
}
_trailing = _on(EVERYWHERE, lambda s: _TRAILING.sub("", s), _may_trail)
_inner_spaces = _on(PROSE, lambda s: _INNER_SPACES.sub(" ", s), _PROBES["extra_spaces"])
_blank_lines = _on(PROSE, lambda s: _BLANK_LINES.sub("\n\n", s), _PROBES["blank_lines"])
_tab_indent = _on(PROSE, lambda s: _TAB_INDENT.sub("", s), _PROBES["tab_indentation"])
_separators = _on(PROSE, _drop_separators, _may_separate)
_asterisks = _on(PROSE, lambda s: _ASTERISKS.sub("", s), _PROBES["markdown_decoration"])
_filler = _on(PROSE, lambda s: _FILLER.sub(_fix_filler, s), _may_fill)
_json = _on(JSON_ONLY, _minify, _may_be_json)


def collapse_whitespace(text: str) -> str:
    return _edges(_blank_lines(_inner_spaces(_trailing(text))))


def minify_json(text: str) -> str:
    return _json(text)


def strip_decoration(text: str) -> str:
    return _asterisks(_separators(text))


def remove_filler(text: str) -> str:
    return _filler(text)


@dataclass(frozen=True, slots=True)
class Check:
    """One kind of waste: where to look, how to see it, and the fix that removes only it."""

    kind: str
    rewrite: str | None  # the rewrite that removes it; None when it is only reported
    kinds: frozenset[SegmentKind]
    pattern: re.Pattern[str]
    fix: Callable[[str], str]
    describe: str  # with {count}


CHECKS: tuple[Check, ...] = (
    Check("trailing_whitespace", "collapse_whitespace", EVERYWHERE, _TRAILING,
          lambda s: _edges(_trailing(s)), "{count} run(s) of trailing spaces or tabs"),
    Check("extra_spaces", "collapse_whitespace", PROSE, _INNER_SPACES, _inner_spaces,
          "{count} run(s) of several spaces between words"),
    Check("blank_lines", "collapse_whitespace", PROSE, _BLANK_LINES, _blank_lines,
          "{count} run(s) of two or more blank lines"),
    Check("tab_indentation", None, PROSE, _TAB_INDENT, _tab_indent,
          "{count} prose line(s) indented with tabs (at most this much if unindented)"),
    Check("separator_lines", "strip_decoration", PROSE, _SEPARATOR_LINE, _separators,
          "{count} separator line(s) such as ----- or ====="),
    Check("markdown_decoration", "strip_decoration", PROSE, _ASTERISKS, _asterisks,
          "{count} run(s) of three or more asterisks"),
    Check("politeness_filler", "remove_filler", PROSE, _FILLER, remove_filler,
          "{count} politeness phrase(s) the instruction reads the same without"),
)  # fmt: skip

REWRITES: dict[str, Callable[[str], str]] = {
    "strip_decoration": strip_decoration,
    "minify_json": minify_json,
    "collapse_whitespace": collapse_whitespace,
    "remove_filler": remove_filler,
}


@dataclass(frozen=True, slots=True)
class Waste:
    kind: str
    rewrite: str | None
    message: str
    excerpt: str
    fixed: str  # the text with only this waste removed (what it costs is counted from it)


def find_waste(text: str, rewrites: frozenset[str]) -> list[Waste]:
    """The waste of ``text`` that the given rewrites remove (reported-only checks ride along
    with ``collapse_whitespace``), plus pretty-printed JSON when ``minify_json`` is given."""
    parts = segments(text)
    found: list[Waste] = []
    for check in CHECKS:
        if (check.rewrite or "collapse_whitespace") not in rewrites:
            continue
        if not _PROBES[check.kind](text):
            continue
        hits = [
            (part, match)
            for kind, part in parts
            if kind in check.kinds
            for match in check.pattern.finditer(part)
        ]
        if check.kind == "trailing_whitespace" and not hits and _edges(text) != text:
            hits = [(text, _edge_match(text))]
        if not hits:
            continue
        part, match = hits[0]
        message = check.describe.format(count=len(hits))
        found.append(Waste(check.kind, check.rewrite, message, line_at(part, match.start()),
                           check.fix(text)))  # fmt: skip
    pretty = [part for kind, part in parts if kind == "json"]
    if pretty and "minify_json" in rewrites:
        message = f"{len(pretty)} pretty-printed JSON block(s) that could be minified"
        found.append(Waste("pretty_json", "minify_json", message, excerpt(pretty[0]),
                           minify_json(text)))  # fmt: skip
    return found


def _edge_match(text: str) -> re.Match[str]:
    match = re.search(r"\s+\Z", text) or re.match(r"\s*", text)
    assert match is not None
    return match


def line_at(text: str, position: int) -> str:
    """The line around ``position``, shortened to an excerpt."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return excerpt(text[start : end if end >= 0 else len(text)], collapse=False)


def excerpt(text: str, *, collapse: bool = True) -> str:
    shown = " ".join(text.split()) if collapse else text
    return shown if len(shown) <= EXCERPT_CHARS else shown[: EXCERPT_CHARS - 1] + "…"
