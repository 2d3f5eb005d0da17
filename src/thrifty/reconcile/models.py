"""Which gateway model id an invoice's model name is.

Providers name a model by its dated snapshot (``gpt-4o-2024-08-06``,
``claude-sonnet-4-20250514``) or, in Anthropic's cost export, by its display name
(``Claude Sonnet 4``); the ledger holds the gateway's model ids (``gpt-4o``,
``anthropic/claude-sonnet-4``). The rules, tried in order, each against every ledger model:

1. ``explicit``: the ``model_names`` mapping (provider name → gateway id; keys matched exactly,
   then ignoring case). It wins even for an id the ledger does not hold.
2. ``exact``: the same string.
3. ``case``: equal ignoring case and surrounding spaces.
4. ``provider_prefix``: equal once a ``provider/`` prefix is dropped (``openai/gpt-4o``).
5. ``display_name``: equal once spaces, dots and underscores are hyphens
   (``Claude Sonnet 4.5`` is ``claude-sonnet-4-5``).
6. ``version_suffix``: equal once a trailing snapshot suffix is dropped (``-2024-08-06``,
   ``-20250514``, ``-0613``, ``-latest``, ``@20250514``): first the invoice's name without it
   against the ledger's id as is, then the other way round, then both without it.

The first rule with exactly one candidate decides. A rule with several candidates makes the
name ``ambiguous`` (it is not guessed); a name no rule matches is ``unmapped``. Both keep the
invoice's name, so their lines are reported as missing in the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

_SUFFIX = re.compile(r"[-@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


@dataclass(frozen=True, slots=True)
class ModelMatch:
    invoice_model: str
    ledger_model: str | None  # None when unmapped or ambiguous
    rule: str  # explicit | exact | case | provider_prefix | display_name | version_suffix
    #          | unmapped | ambiguous
    candidates: tuple[str, ...] = ()  # the ledger models an ambiguous name could be


def _case(name: str) -> str:
    return name.strip().lower()


def _bare(name: str) -> str:
    return _case(name).rsplit("/", 1)[-1]


def _slug(name: str) -> str:
    return re.sub(r"[\s._]+", "-", _bare(name)).strip("-")


def _base(name: str) -> str:
    return _SUFFIX.sub("", _slug(name))


_Key = Callable[[str], str]
_RULES: tuple[tuple[str, _Key, _Key], ...] = (
    ("exact", str, str),
    ("case", _case, _case),
    ("provider_prefix", _bare, _bare),
    ("display_name", _slug, _slug),
    ("version_suffix", _base, _slug),
    ("version_suffix", _slug, _base),
    ("version_suffix", _base, _base),
)


def match_model(name: str, ledger_models: Iterable[str], names: Mapping[str, str]) -> ModelMatch:
    """The gateway model id for the invoice's model ``name`` (see the module's rules)."""
    explicit = names.get(name)
    if explicit is None:
        explicit = next((v for k, v in names.items() if _case(k) == _case(name)), None)
    if explicit is not None:
        return ModelMatch(name, explicit, "explicit")
    ledger = sorted(set(ledger_models))
    for rule, invoice_key, ledger_key in _RULES:
        wanted = invoice_key(name)
        found = [model for model in ledger if ledger_key(model) == wanted]
        if len(found) == 1:
            return ModelMatch(name, found[0], rule)
        if found:
            return ModelMatch(name, None, "ambiguous", tuple(found))
    return ModelMatch(name, None, "unmapped")


def match_models(
    invoice_models: Iterable[str], ledger_models: Iterable[str], names: Mapping[str, str]
) -> dict[str, ModelMatch]:
    """:func:`match_model` for each distinct invoice model name."""
    ledger = sorted(set(ledger_models))
    return {name: match_model(name, ledger, names) for name in sorted(set(invoice_models))}
