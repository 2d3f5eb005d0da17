"""A fast, exact price formula for token usage, equal to genai-prices' own calculation.

genai-prices decomposes usage through a general unit registry, which costs about 0.3 ms a
call; the hot path prices several models per request. For prices made only of the token units
a chat call reports (input, output, cache read, cache write) plus units that such a call never
uses (web searches, audio, images, …), this computes the same Decimal directly. Any other price
falls back to genai-prices. ``tests/pricing/test_formula.py`` checks equality on every model of
the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from genai_prices.types import ModelPrice, TieredPrices, Usage

Price = Decimal | TieredPrices | None
_PER_MTOK = Decimal(1_000_000)
_TOKEN_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
#: Units whose counts are zero for token usage, so their prices add nothing.
_UNUSED_BY_TOKENS = frozenset(
    {
        "web_searches_kcount",
        "storage_searches_kcount",
        "cache_write_1h_mtok",
        "input_audio_mtok",
        "output_audio_mtok",
        "cache_audio_read_mtok",
        "audio_hours",
        "input_audio_hours",
        "input_image_mtok",
        "output_image_mtok",
        "cache_image_read_mtok",
        "input_video_mtok",
        "output_video_mtok",
        "input_document_kpages",
        "input_annotated_document_kpages",
    }
)


@dataclass(frozen=True, slots=True)
class TokenFormula:
    input: Price
    output: Price
    cache_read: Price
    cache_write: Price

    def cost(
        self, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
    ) -> Decimal:
        """Cost in USD; ``input_tokens`` includes cache reads and writes."""
        fresh = input_tokens
        total = Decimal(0)
        if self.cache_read is not None and cache_read:
            fresh -= cache_read
            total += _unit(self.cache_read, cache_read, input_tokens)
        if self.cache_write is not None and cache_write:
            fresh -= cache_write
            total += _unit(self.cache_write, cache_write, input_tokens)
        if self.input is not None:
            total += _unit(self.input, fresh, input_tokens)
        if self.output is not None:
            total += _unit(self.output, output_tokens, input_tokens)
        return total

    def pair(self, input_tokens: int, expected: int, worst: int) -> tuple[Decimal, Decimal]:
        """``costs(input_tokens, (expected, worst))`` as a pair, without the list."""
        base = Decimal(0)
        if self.input is not None:
            base += _unit(self.input, input_tokens, input_tokens)
        output = self.output
        if output is None:
            return base, base
        if isinstance(output, TieredPrices):
            return (
                base + _unit(output, expected, input_tokens),
                base + _unit(output, worst, input_tokens),
            )
        return base + output * expected / _PER_MTOK, base + output * worst / _PER_MTOK

    def costs(self, input_tokens: int, outputs: tuple[int, ...]) -> list[Decimal]:
        """``cost(input_tokens, out, 0, 0)`` for each ``out``, the input priced once: the same
        Decimal operations in the same order, so the same values to the last digit."""
        base = Decimal(0)
        if self.input is not None:
            base += _unit(self.input, input_tokens, input_tokens)
        if self.output is None:
            return [base for _ in outputs]
        return [base + _unit(self.output, out, input_tokens) for out in outputs]


def _unit(price: Decimal | TieredPrices, count: int, total_input: int) -> Decimal:
    if isinstance(price, TieredPrices):
        applicable = price.base
        for tier in reversed(price.tiers):
            if total_input > tier.start:
                applicable = tier.price
                break
        return applicable * count / _PER_MTOK
    return price * count / _PER_MTOK


def compile_formula(price: ModelPrice) -> TokenFormula | None:
    """The direct formula for ``price``, or None when only genai-prices can price it."""
    keys = {key for key, value in vars(price).items() if value is not None}
    if keys - set(_TOKEN_KEYS) - _UNUSED_BY_TOKENS:
        return None
    input_price, output, cache_read, cache_write = (getattr(price, k, None) for k in _TOKEN_KEYS)
    return TokenFormula(input_price, output, cache_read, cache_write)


def genai_cost(
    price: ModelPrice, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int
) -> Decimal:
    """The reference calculation (genai-prices' registry), for prices the formula refuses."""
    result = price.calc_price(
        Usage(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read or None,
            cache_write_tokens=cache_write or None,
        )
    )
    total: Decimal = result["total_price"]
    return total
