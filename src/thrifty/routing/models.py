"""Model profiles: what each registered model is, can do, and how good it is per task type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from thrifty.routing.tasks import Capability


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """One model as clients name it, with the upstream that serves it."""

    id: str
    provider: str
    upstream_model: str
    context_window: int
    capabilities: frozenset[Capability] = frozenset()
    quality: Mapping[str, float] = field(default_factory=dict)
    max_output_tokens: int | None = None
    catalog_id: str | None = None
    fallbacks: tuple[str, ...] = ()

    def quality_for(self, task_type: str) -> float:
        """Quality for a task type, falling back to the model's default (0.5 if none)."""
        return self.quality.get(task_type, self.quality.get("default", 0.5))

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities
