"""Prompt tokens of an image input, from its detail setting and, when known, its size.

The size is known when the image travels inline (a ``data:`` URL or base64 source) as PNG, GIF
or JPEG: the header is read from the first bytes, nothing is fetched. For a remote URL the size
is unknown and the largest count the formula can give is used, so a budget hold is never short.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct

from thrifty.pricing.tokenizer_catalog import ImageRule

_HEADER_BYTES = 65536  # a JPEG's size marker may follow EXIF data; PNG/GIF need < 32 bytes
_MAX_SIDE = 2048
_SHORT_SIDE = 768
_TILE = 512


def image_tokens(rule: ImageRule, *, detail: str, size: tuple[int, int] | None) -> tuple[int, bool]:
    """(tokens, exact): exact when the formula had everything it needs."""
    if rule.kind == "area":
        if size is None:
            return rule.max_tokens, False
        width, height = size
        return min(rule.max_tokens, math.ceil(width * height / rule.pixels_per_token)), False
    if detail == "low":
        return rule.base, True
    if size is None:
        # Largest case: fitted to 768 x 2048 -> 2 x 4 tiles.
        return rule.base + rule.tile * 8, False
    return rule.base + rule.tile * _tile_count(*size), detail == "high"


def _tile_count(width: int, height: int) -> int:
    scale = min(1.0, _MAX_SIDE / max(width, height))
    fitted_width, fitted_height = width * scale, height * scale
    scale = min(1.0, _SHORT_SIDE / min(fitted_width, fitted_height))
    fitted_width, fitted_height = fitted_width * scale, fitted_height * scale
    return math.ceil(fitted_width / _TILE) * math.ceil(fitted_height / _TILE)


def inline_image_size(data: str) -> tuple[int, int] | None:
    """Width and height of an inline image (``data:`` URL or bare base64), if readable."""
    if data.startswith("data:"):
        _, _, data = data.partition(",")
    head = data[: _HEADER_BYTES // 3 * 4]
    head = head[: len(head) // 4 * 4]
    try:
        raw = base64.b64decode(head, validate=False)
    except (binascii.Error, ValueError):
        return None
    return _size_from_header(raw)


def _size_from_header(raw: bytes) -> tuple[int, int] | None:
    if raw.startswith(b"\x89PNG\r\n\x1a\n") and len(raw) >= 24:
        width, height = struct.unpack(">II", raw[16:24])
        return _valid(width, height)
    if raw[:6] in (b"GIF87a", b"GIF89a") and len(raw) >= 10:
        width, height = struct.unpack("<HH", raw[6:10])
        return _valid(width, height)
    if raw.startswith(b"\xff\xd8"):
        return _jpeg_size(raw)
    return None


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 < len(raw):
        if raw[position] != 0xFF:
            return None
        marker = raw[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", raw[position + 2 : position + 4])
        is_frame = 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC)
        if is_frame:
            height, width = struct.unpack(">HH", raw[position + 5 : position + 9])
            return _valid(width, height)
        position += 2 + length
    return None


def _valid(width: int, height: int) -> tuple[int, int] | None:
    return (width, height) if width > 0 and height > 0 else None
