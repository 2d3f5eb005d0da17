"""The model registry as an immutable snapshot: profiles plus each model's price timeline.

Built from storage, swapped whole when anything changes, read without locks on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from thrifty.errors import UnknownModel
from thrifty.pricing.catalog import CatalogRef, ResolvedPrice, price_validity, resolve_price
from thrifty.pricing.prices import PricePoint
from thrifty.routing.models import ModelProfile

T = TypeVar("T")


@dataclass(frozen=True)
class ModelRegistry:
    profiles: Mapping[str, ModelProfile] = field(default_factory=dict)
    prices: Mapping[str, Sequence[PricePoint]] = field(default_factory=dict)
    #: Resolved prices with the interval in which they hold (``price_validity``).
    _resolved: dict[str, tuple[ResolvedPrice, datetime | None, datetime | None]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, name: str, build: Callable[[ModelRegistry], T]) -> T:
        """``build(self)``, computed once per snapshot (the registry never changes)."""
        value = self._derived.get(name)
        if value is None:
            value = self._derived[name] = build(self)
        return value

    @classmethod
    def build(
        cls, profiles: Iterable[ModelProfile], prices: Mapping[str, Sequence[PricePoint]]
    ) -> ModelRegistry:
        ordered = sorted(profiles, key=lambda p: p.id)
        return cls({p.id: p for p in ordered}, {k: tuple(v) for k, v in prices.items()})

    def get(self, model_id: str, *, field: str = "model") -> ModelProfile:
        profile = self.profiles.get(model_id)
        if profile is None:
            raise UnknownModel(f"model {model_id!r} is not registered", field=field)
        return profile

    def __contains__(self, model_id: object) -> bool:
        return model_id in self.profiles

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.profiles.values())

    def __len__(self) -> int:
        return len(self.profiles)

    def price_of(self, model_id: str, at: datetime) -> ResolvedPrice:
        """The price of a registered model in force at ``at`` (remembered while it holds)."""
        known = self._resolved.get(model_id)
        if known is not None:
            price, start, end = known
            if (start is None or at >= start) and (end is None or at < end):
                return price
        profile = self.get(model_id)
        catalog = CatalogRef.parse(profile.catalog_id) if profile.catalog_id else None
        points = self.prices.get(model_id, ())
        price = resolve_price(model_id, points, catalog, at)
        validity = price_validity(points, catalog, at)
        if validity is not None:
            self._resolved[model_id] = (price, *validity)
        return price
