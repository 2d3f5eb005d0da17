"""The model registry as an immutable snapshot: profiles plus each model's price timeline.

Built from storage, swapped whole when anything changes, read without locks on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from thrifty.errors import UnknownModel
from thrifty.pricing.catalog import CatalogRef, ResolvedPrice, resolve_price
from thrifty.pricing.prices import PricePoint
from thrifty.routing.models import ModelProfile


@dataclass(frozen=True)
class ModelRegistry:
    profiles: Mapping[str, ModelProfile] = field(default_factory=dict)
    prices: Mapping[str, Sequence[PricePoint]] = field(default_factory=dict)

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
        """The price of a registered model in force at ``at``."""
        profile = self.get(model_id)
        catalog = CatalogRef.parse(profile.catalog_id) if profile.catalog_id else None
        return resolve_price(model_id, self.prices.get(model_id, ()), catalog, at)
