"""The learned router: from a prompt's messages alone, each model's chance of a good answer.

Pure and fast (the gateway's hot path): a prompt becomes a sparse vector of hashed features,
and each model's probability is a linear function of it, fitted by
:mod:`thrifty.routing.training` and stored as JSON (never pickle)::

    router = LearnedRouter.load("router.json")
    probabilities = router.predict(messages)        # model → P(good answer)
    costs = router.predict_costs(messages)          # model → expected USD (Decimal)
    share = router.quality_requirement(probabilities, costs, min_quality=0.99)
    select_model(candidates, quality_requirement=share)

**Features** (:func:`extract_features`). The prompt's text is split at its last blank line into
a *preamble* (instructions and few-shot examples, usually shared by every request of one
application) and the *question*. Two groups, each L2-normalised and then scaled:

- *template*: one hashed key for the preamble (``none`` when there is none) and one for the
  sequence of message roles, scaled by ``template_scale``. These say which kind of request
  this is, the strongest signal of which models answer it well;
- *content*: the question's word unigrams and bigrams (log counts) and its length bucket,
  scaled by ``content_scale`` (0 turns them off).

**Operating point.** The router turns a target share of the strongest model's quality into a
``cost_weight`` λ chosen by cross-validation at training time (:class:`OperatingPoint`). For a
request it picks the model of highest ``p − λ·cost/reference_cost`` and returns the quality
requirement that makes ``select_model``'s cost-aware rule (the cheapest candidate reaching that
share of the best quality) choose exactly that model.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from thrifty.errors import ConfigError

FORMAT = "thrifty-learned-router"
VERSION = 1
FloatArray = npt.NDArray[np.float64]
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")
#: Probabilities are kept in [FLOOR, 1] so that shares of the best one stay defined.
FLOOR = 1e-3


def prompt_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of a chat request: every message's text content, joined by blank lines."""
    parts: list[str] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(p["text"] for p in content if isinstance(p, dict) and "text" in p)
    return "\n\n".join(parts)


def _bucket(key: str, dimensions: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % dimensions


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """How a prompt becomes features (stored in router.json; training and serving share it)."""

    dimensions: int = 1 << 15
    template_scale: float = 1.0
    content_scale: float = 0.0

    def json(self) -> dict[str, Any]:
        return {
            "kind": "hashed",
            "dimensions": self.dimensions,
            "templateScale": self.template_scale,
            "contentScale": self.content_scale,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> FeatureSpec:
        if raw.get("kind", "hashed") != "hashed":
            raise ConfigError(f"router features: unknown kind {raw.get('kind')!r}")
        return cls(int(raw["dimensions"]), float(raw["templateScale"]), float(raw["contentScale"]))


def _normalised(counts: dict[int, float]) -> dict[int, float]:
    norm = math.sqrt(sum(v * v for v in counts.values()))
    return {k: v / norm for k, v in counts.items()} if norm else {}


def feature_groups(
    messages: Sequence[Mapping[str, Any]], dimensions: int
) -> tuple[dict[int, float], dict[int, float]]:
    """The template and content groups of a request, each L2-normalised, not yet scaled."""
    low = prompt_text(messages).lower()
    preamble, _, question = low.rpartition("\n\n")
    roles = ",".join(str(m.get("role", "")) for m in messages)
    template = {
        _bucket(
            f"preamble:{zlib.crc32(preamble.encode()) if preamble else 'none'}", dimensions
        ): 1.0,
        _bucket(f"roles:{roles}", dimensions): 1.0,
    }
    counts: dict[int, float] = {}
    words = _WORD.findall(question)
    keys = [f"w:{w}" for w in words] + [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    keys.append(f"length:{len(question).bit_length()}")
    for key in keys:
        # Content buckets live above the template ones, so the two groups never collide (a
        # collision would mix a template weight into a content feature at serving time).
        bucket = dimensions + _bucket(key, dimensions)
        counts[bucket] = counts.get(bucket, 0.0) + 1.0
    content = {k: math.log1p(v) for k, v in counts.items()}
    return _normalised(template), _normalised(content)


def extract_features(messages: Sequence[Mapping[str, Any]], spec: FeatureSpec) -> dict[int, float]:
    """The sparse feature vector (bucket → value) of a request (see the module docstring)."""
    template, content = feature_groups(messages, spec.dimensions)
    features = {k: spec.template_scale * v for k, v in template.items()}
    if spec.content_scale:
        for bucket, value in content.items():
            features[bucket] = features.get(bucket, 0.0) + spec.content_scale * value
    return features


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A target share of the strongest model's quality and the cost weight chosen for it."""

    min_quality: float
    cost_weight: float
    validated_cost_share: float | None = None  # cross-validated, on the training data
    validated_quality_share: float | None = None

    def json(self) -> dict[str, Any]:
        return {
            "minQuality": self.min_quality,
            "costWeight": self.cost_weight,
            "validatedCostShare": self.validated_cost_share,
            "validatedQualityShare": self.validated_quality_share,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> OperatingPoint:
        cost, quality = raw.get("validatedCostShare"), raw.get("validatedQualityShare")
        return cls(
            float(raw["minQuality"]),
            float(raw["costWeight"]),
            None if cost is None else float(cost),
            None if quality is None else float(quality),
        )


@dataclass(frozen=True, eq=False)
class LearnedRouter:
    """A fitted router: per model, an intercept and sparse feature weights for the chance of a
    good answer, and a cost line ``a + b·characters``; plus the calibrated operating points."""

    models: tuple[str, ...]
    strongest_model: str
    spec: FeatureSpec
    intercepts: FloatArray  # (models,)
    buckets: tuple[int, ...]  # feature buckets with a weight, row order of ``weights``
    weights: FloatArray  # (buckets, models)
    cost_intercepts: FloatArray  # (models,) USD
    cost_slopes: FloatArray  # (models,) USD per character of prompt text
    reference_cost: float  # the strongest model's mean cost per prompt in training (USD)
    operating_points: tuple[OperatingPoint, ...] = ()
    training: Mapping[str, Any] = field(default_factory=dict)
    _rows: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rows", {b: i for i, b in enumerate(self.buckets)})

    def probabilities(self, messages: Sequence[Mapping[str, Any]]) -> FloatArray:
        """P(good answer) per model, in ``models`` order."""
        features = extract_features(messages, self.spec)
        rows = [(self._rows[b], v) for b, v in features.items() if b in self._rows]
        raw = self.intercepts.copy()
        if rows:
            index, values = zip(*rows, strict=True)
            raw += np.asarray(values) @ self.weights[list(index)]
        return np.clip(raw, FLOOR, 1.0)

    def costs(self, messages: Sequence[Mapping[str, Any]]) -> FloatArray:
        """Expected cost (USD, float) per model, in ``models`` order."""
        characters = len(prompt_text(messages))
        floor = 0.05 * np.maximum(self.cost_intercepts + self.cost_slopes * 100.0, 1e-9)
        return np.maximum(self.cost_intercepts + self.cost_slopes * characters, floor)

    def ranking(self) -> tuple[str, ...]:
        """The models by mean quality on the training data, strongest first."""
        order = sorted(range(len(self.models)), key=lambda j: -self.intercepts[j])
        rest = tuple(self.models[j] for j in order if self.models[j] != self.strongest_model)
        return (self.strongest_model, *rest)

    def predict(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Model → its chance of a good answer to this request."""
        return dict(zip(self.models, self.probabilities(messages).tolist(), strict=True))

    def predict_costs(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Decimal]:
        """Model → the expected cost of this request in USD (an estimate, rounded to 1e-10)."""
        return {
            m: Decimal(f"{c:.10f}")
            for m, c in zip(self.models, self.costs(messages).tolist(), strict=True)
        }

    def operating_point(self, min_quality: float) -> OperatingPoint:
        """The operating point calibrated for ``min_quality`` (exact match, else an error)."""
        for point in self.operating_points:
            if abs(point.min_quality - min_quality) < 1e-9:
                return point
        known = ", ".join(f"{p.min_quality:g}" for p in self.operating_points) or "none"
        raise ConfigError(
            f"the router has no operating point for min quality {min_quality:g} "
            f"(it has: {known}); train it with --min-quality {min_quality:g}"
        )

    def quality_requirement(
        self,
        probabilities: Mapping[str, float],
        costs: Mapping[str, Decimal | float],
        *,
        min_quality: float,
    ) -> float:
        """The share of the best quality that makes ``select_model`` (cost-aware) choose this
        router's pick at ``min_quality`` among the candidates given (only those that can
        serve the request)."""
        weight = self.operating_point(min_quality).cost_weight
        return requirement_for(probabilities, costs, weight / self.reference_cost)

    def json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "models": list(self.models),
            "strongestModel": self.strongest_model,
            "features": self.spec.json(),
            "intercepts": _rounded(self.intercepts),
            "weights": {
                str(b): _rounded(w) for b, w in zip(self.buckets, self.weights, strict=True)
            },
            "cost": {
                "intercepts": _rounded(self.cost_intercepts),
                "perCharacter": _rounded(self.cost_slopes),
                "referenceCost": self.reference_cost,
            },
            "operatingPoints": [p.json() for p in self.operating_points],
            "training": dict(self.training),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LearnedRouter:
        if raw.get("format") != FORMAT or raw.get("version") != VERSION:
            raise ConfigError(f"not a {FORMAT} file of version {VERSION}")
        try:
            models = tuple(str(m) for m in raw["models"])
            weights = raw["weights"]
            matrix = np.array([weights[b] for b in weights], dtype=np.float64)
            router = cls(
                models=models,
                strongest_model=str(raw["strongestModel"]),
                spec=FeatureSpec.from_json(raw["features"]),
                intercepts=np.array(raw["intercepts"], dtype=np.float64),
                buckets=tuple(int(b) for b in weights),
                weights=matrix.reshape(len(weights), len(models)),
                cost_intercepts=np.array(raw["cost"]["intercepts"], dtype=np.float64),
                cost_slopes=np.array(raw["cost"]["perCharacter"], dtype=np.float64),
                reference_cost=float(raw["cost"]["referenceCost"]),
                operating_points=tuple(OperatingPoint.from_json(p) for p in raw["operatingPoints"]),
                training=dict(raw.get("training", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"router file is malformed: {exc!r}") from None
        if router.intercepts.shape != (len(models),) or router.cost_slopes.shape != (len(models),):
            raise ConfigError("router file is malformed: one value per model expected")
        return router

    @classmethod
    def load(cls, path: str | Path) -> LearnedRouter:
        """Read a router file written by ``thrifty router train``."""
        try:
            raw = json.loads(Path(path).read_text("utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the router: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"{path}: the router is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the router must be a JSON object")
        return cls.from_json(raw)


def requirement_for(
    probabilities: Mapping[str, float], costs: Mapping[str, Decimal | float], weight: float
) -> float:
    """The share of the best probability that makes "cheapest reaching the share" pick the model
    of highest ``p − weight·cost`` (ties: the cheaper). Every model cheaper than that pick has a
    lower probability, so the pick's own share of the best excludes them all."""
    pick = max(
        probabilities, key=lambda m: (probabilities[m] - weight * float(costs[m]), -costs[m])
    )
    best = max(probabilities.values())
    return max(FLOOR, probabilities[pick] / best * (1 - 1e-9)) if best > 0 else 1.0


def _rounded(values: Sequence[float] | FloatArray) -> list[float]:
    return [float(f"{v:.6g}") for v in np.asarray(values, dtype=np.float64).tolist()]
