"""A real gateway (uvicorn on a loopback port, in a thread) with an org, a team, a user and an
API key, for the official SDKs to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai

from live_server import serving
from thrifty.settings import Settings

ADMIN = "test-admin-key"


@dataclass
class Gateway:
    url: str
    key: str
    admin: httpx.Client

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"

    def budget(self, scope_type: str, scope_id: str, limit: str, **extra: object) -> dict:
        body = {
            "name": f"{scope_type} {scope_id}",
            "scope": {"type": scope_type, "id": scope_id},
            "limit": limit,
            "period": "monthly",
            "start_date": "2026-01-01",
            "mode": "hard",
            **extra,
        }
        response = self.admin.post("/api/v1/budgets", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def usage(self) -> list[dict]:
        from sqlalchemy import select

        from thrifty.storage.database import Database
        from thrifty.storage.schema import usage_records

        database = Database(self.database_url)
        try:
            rows = database.read(lambda c: c.execute(select(usage_records)).all())
        finally:
            database.close()
        return [dict(row._mapping) for row in rows]

    database_url: str = ""
    clients: list[Any] = field(default_factory=list)

    def openai(self, **options: Any) -> openai.OpenAI:
        """An OpenAI SDK client of this gateway's key, closed when the test ends."""
        client = openai.OpenAI(base_url=self.v1, api_key=self.key, **options)
        self.clients.append(client)
        return client

    def anthropic(self, **options: Any) -> anthropic.Anthropic:
        """An Anthropic SDK client of this gateway's key, closed when the test ends."""
        client = anthropic.Anthropic(base_url=self.url, api_key=self.key, **options)
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        """Close every SDK client the test opened (their sockets, even mid-stream), and
        collect what is left, so a leak shows in the test that caused it."""
        import gc

        for client in self.clients:
            client.close()
        self.clients.clear()
        gc.collect()


def serve(settings: Settings) -> Iterator[str]:
    from thrifty.app import create_app

    with serving(create_app(settings)) as url:
        yield url


def provision(admin: httpx.Client) -> str:
    for path, body in (
        ("/api/v1/orgs", {"id": "acme", "name": "Acme"}),
        ("/api/v1/teams", {"id": "eng", "org_id": "acme", "name": "Engineering"}),
        ("/api/v1/users", {"id": "ann", "team_id": "eng", "name": "Ann"}),
    ):
        assert admin.post(path, json=body).status_code == 201
    key = admin.post("/api/v1/keys", json={"user_id": "ann", "name": "app"})
    assert key.status_code == 201, key.text
    return str(key.json()["secret"])
