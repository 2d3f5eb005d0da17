"""What cost analysis learns from live traffic: sums by task type and tag, and the shared
preambles of requests (with and without their text) — through the SDKs and the gateway."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import ADMIN, Gateway, provision, serve
from sqlalchemy import create_engine, select

from thrifty.settings import Settings
from thrifty.storage.database import normalize_url
from thrifty.storage.schema import prompt_prefixes, prompt_texts

CONFIG = """\
providers:
  - {name: sim, kind: simulated}
models:
  - {id: mid, provider: sim, price: {input_per_mtok: 1, output_per_mtok: 3},
     context_window: 100000, quality: {default: 0.9}}
analytics: {store_prompts: %s, max_prompt_chars: 40}
"""
SYSTEM = "You are a support agent for Acme. Answer in two sentences. Never promise refunds."


def _gateway(database_url: str, tmp_path: Path, store: bool) -> Iterator[Gateway]:
    path = tmp_path / "thrifty.yaml"
    path.write_text(CONFIG % ("true" if store else "false"))
    settings = Settings(database_url=database_url, admin_key=ADMIN, config=str(path))
    for url in serve(settings):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            gateway = Gateway(url, provision(admin), admin, database_url)
            yield gateway
            gateway.close_clients()


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    yield from _gateway(database_url, tmp_path, store=True)


def _rows(database_url: str, table) -> list[dict]:  # type: ignore[no-untyped-def]
    engine = create_engine(normalize_url(database_url))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(table))]
    engine.dispose()
    return rows


def _ask(gateway: Gateway, question: str, **extra: object) -> None:
    gateway.openai().chat.completions.create(
        model="auto",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}],
        **extra,  # type: ignore[arg-type]
    )


def test_traffic_is_summed_by_task_and_tag_and_preambles_are_counted(
    gateway: Gateway, database_url: str
) -> None:
    _ask(gateway, "Where is my parcel? It was due Monday.")
    _ask(gateway, "Can I change my delivery address?", extra_headers={"x-thrifty-tags": "web"})
    gateway.openai().chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Translate 'good morning' to French"}]
    )
    tasks = gateway.admin.get("/api/v1/cost-analysis/by/task-type").json()["groups"]
    assert sum(g["requests"] for g in tasks) == 3
    assert "translation" in {g["taskType"] for g in tasks}
    tags = gateway.admin.get("/api/v1/cost-analysis/by/tag").json()["groups"]
    assert {g["tag"]: g["requests"] for g in tags}.get("web") == 1
    (prefix,) = _rows(database_url, prompt_prefixes)  # the translation has no preamble
    assert prefix["requests"] == 2 and prefix["model"] == "mid" and prefix["tokens"] > 10
    (text,) = _rows(database_url, prompt_texts)
    assert text["fingerprint"] == prefix["fingerprint"]
    assert text["text"] == f"system: {SYSTEM}"[:40] and text["truncated"] == 1


def test_store_prompts_off_keeps_no_text(database_url: str, tmp_path: Path) -> None:
    for gateway in _gateway(database_url, tmp_path, store=False):
        _ask(gateway, "Where is my parcel?")
        assert _rows(database_url, prompt_prefixes)[0]["requests"] == 1
        assert _rows(database_url, prompt_texts) == []
