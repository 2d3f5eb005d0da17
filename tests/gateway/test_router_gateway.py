"""A learned router trained with ``thrifty router train`` and loaded by the gateway
(``router: {path}``): it routes each prompt by what it learned, and the decision says so."""

from __future__ import annotations

import json
import random
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from gateway_support import ADMIN, Gateway, provision, serve

from thrifty.cli import main
from thrifty.settings import Settings

WORDS = ["apple", "river", "stone", "cloud", "garden", "window", "candle", "forest", "music"]


def _dataset(path: Path, count: int = 240) -> None:
    """``cheap`` answers well exactly when the prompt says "easy"; ``strong`` always does."""
    rng = random.Random(7)
    with path.open("w") as out:
        for i in range(count):
            easy = i % 2 == 0
            words = [rng.choice(WORDS) for _ in range(6)] + ["easy" if easy else "tricky"]
            rng.shuffle(words)
            outcomes = {
                "cheap": {"quality": 1.0 if easy else 0.0, "cost": 0.001},
                "strong": {"quality": 1.0, "cost": 0.010},
            }
            message = {"role": "user", "content": " ".join(words)}
            out.write(json.dumps({"id": f"p{i}", "messages": [message], "outcomes": outcomes}))
            out.write("\n")


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    data, router = tmp_path / "train.jsonl", tmp_path / "router.json"
    _dataset(data)
    # Here the words decide (the template is the same for every prompt): let the training
    # weigh them more than RouterBench needs.
    train = ["router", "train", "--data", str(data), "--out", str(router), "--folds", "3"]
    assert main([*train, "--content-scales", "0,0.3,1"]) == 0
    config = tmp_path / "thrifty.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            providers:
              - {{name: sim, kind: simulated}}
            models:
              - {{id: cheap, provider: sim, price: {{input_per_mtok: 1, output_per_mtok: 1}},
                 context_window: 100000, quality: {{default: 0.9}}}}
              - {{id: strong, provider: sim, price: {{input_per_mtok: 10, output_per_mtok: 10}},
                 context_window: 100000, quality: {{default: 0.9}}}}
            router: {{path: {router}}}
            selection: {{exploration: 0}}
            """
        )
    )
    settings = Settings(database_url=database_url, admin_key=ADMIN, config=str(config))
    for url in serve(settings):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            yield Gateway(url, provision(admin), admin, database_url)


def test_the_gateway_routes_by_the_learned_router(gateway: Gateway) -> None:
    with openai.OpenAI(base_url=gateway.v1, api_key=gateway.key) as client:
        easy = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "stone easy garden river"}]
        )
        tricky = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "stone tricky garden river"}]
        )
    assert easy.headers["x-thrifty-model"] == "cheap"
    assert tricky.headers["x-thrifty-model"] == "strong"
    request_id = tricky.headers["x-thrifty-request-id"]
    explanation = gateway.admin.get(f"/api/v1/explainer/request/{request_id}").json()
    assert explanation["qualitySource"] == "router"
    cheap = next(a for a in explanation["alternatives"] if a["model"] == "cheap")
    assert cheap["quality"] < 0.5 and cheap["reason"].startswith("quality below requirement")
