"""The export layouts :func:`thrifty.reconcile.parse_invoice` reads, in detection order."""

from thrifty.reconcile.layouts import anthropic, generic, openai
from thrifty.reconcile.layouts.base import Variant

VARIANTS: tuple[Variant, ...] = (
    openai.USAGE,
    openai.COSTS,
    anthropic.USAGE,
    anthropic.COSTS,
    generic.GENERIC,
)

__all__ = ["VARIANTS", "Variant"]
