"""Rate limits: the window arithmetic, the counter stores (SQLite, PostgreSQL, Redis) under one
contract, and the 429s a real gateway answers to the official SDKs."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import redis
from gateway_support import ADMIN, provision
from hypothesis import given
from hypothesis import strategies as st

from live_server import serving
from thrifty.budgets.model import Scope, ScopeType
from thrifty.errors import RateLimited, StorageError
from thrifty.gateway.ratelimit import (
    WINDOW_MS,
    CounterStore,
    DatabaseCounters,
    RedisCounters,
    fits,
    wait_ms,
)
from thrifty.pricing.tokens import count_chat
from thrifty.settings import Settings
from thrifty.storage import ratelimit_repo
from thrifty.storage.database import Database
from thrifty.storage.ratelimit_repo import RateLimit

REDIS_ENV = "THRIFTY_TEST_REDIS_URL"
MINUTE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MESSAGES = [{"role": "user", "content": "Say hello."}]


def redis_url() -> str:
    """The test Redis (database 15 by default); unreachable: skipped locally, failed in CI."""
    url = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {url} is unreachable: {exc}")
        pytest.skip(f"Redis at {url} is unreachable")
    return url


def forget_keys(url: str, pattern: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=pattern, count=1000):
        client.delete(key)
    client.close()


def limit(scope: str, rpm: int | None = None, tpm: int | None = None) -> RateLimit:
    kind, _, identifier = scope.partition(":")
    return RateLimit(f"rl_{kind}", Scope(ScopeType(kind), identifier), rpm, tpm, MINUTE, MINUTE)


# --- the arithmetic ------------------------------------------------------------------------


@given(
    cap=st.integers(1, 500),
    previous=st.integers(0, 500),
    current=st.integers(0, 500),
    cost=st.integers(1, 600),
    elapsed=st.integers(0, WINDOW_MS - 1),
)
def test_wait_is_the_first_moment_the_request_fits(
    cap: int, previous: int, current: int, cost: int, elapsed: int
) -> None:
    wait = wait_ms(cap, previous, current, cost, elapsed)
    if wait is None:
        assert cost > cap
        return

    def fits_after(ms: int) -> bool:
        at = elapsed + ms
        if at < WINDOW_MS:
            return fits(cap, previous, current, cost, at)
        if at < 2 * WINDOW_MS:
            return fits(cap, current, 0, cost, at - WINDOW_MS)
        return fits(cap, 0, 0, cost, at - 2 * WINDOW_MS)

    assert fits_after(wait)
    assert wait == 0 or not fits_after(wait - 1)


# --- one contract, three stores ------------------------------------------------------------


StoreFactory = Callable[[], CounterStore]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if request.param == "redis":
        url = redis_url()
        prefix = f"thrifty-test:{uuid.uuid4().hex}:"
        yield lambda: RedisCounters(url, prefix=prefix)
        forget_keys(url, prefix + "*")
        return
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/limits.db")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
    database.migrate()
    yield lambda: DatabaseCounters(database)
    database.close()


async def take(store: CounterStore, limits: list[RateLimit], now: datetime, tokens: int = 0):
    """None when admitted, else the refusal."""
    try:
        await store.take(limits, tokens, now)
    except RateLimited as refusal:
        return refusal
    return None


def run(make_store: StoreFactory, scenario: Callable[[CounterStore], object]) -> None:
    async def main() -> None:
        store = make_store()
        try:
            await scenario(store)  # type: ignore[misc]
        finally:
            await store.close()

    asyncio.run(main())


def test_exactly_the_limit_is_admitted_under_concurrency(make_store: StoreFactory) -> None:
    limits = [limit("key:k1", rpm=50), limit("team:eng", rpm=1000)]

    async def scenario(store: CounterStore) -> None:
        now = MINUTE + timedelta(seconds=5)
        results = await asyncio.gather(*(take(store, limits, now) for _ in range(80)))
        refused = [r for r in results if r is not None]
        assert len(refused) == 30
        assert {(r.limit_id, r.scope, r.kind) for r in refused} == {
            ("rl_key", "key:k1", "requests_per_minute")
        }
        # The refused requests were counted nowhere: the team saw exactly 50.
        team = [limit("team:eng", rpm=50)]
        assert await take(store, team, now) is not None
        assert await take(store, [limit("team:eng", rpm=51)], now) is None

    run(make_store, scenario)


def test_tokens_per_minute(make_store: StoreFactory) -> None:
    limits = [limit("user:ann", tpm=1000)]

    async def scenario(store: CounterStore) -> None:
        now = MINUTE
        for _ in range(3):
            assert await take(store, limits, now, tokens=300) is None
        refusal = await take(store, limits, now, tokens=300)
        assert refusal is not None and refusal.kind == "tokens_per_minute"
        assert "900 were used" in refusal.message and "needs 300" in refusal.message
        assert refusal.headers["x-ratelimit-remaining-tokens"] == "100"
        # 60 s to the next minute, then 900 × (60 − t) / 60 + 300 ≤ 1000 from t = 13.3 s.
        assert refusal.retry_after_s == 74
        assert await take(store, limits, now, tokens=100) is None
        too_big = await take(store, limits, now + timedelta(minutes=5), tokens=1001)
        assert too_big is not None and "more than the 1000 tokens" in too_big.message

    run(make_store, scenario)


def test_windows_roll_over_and_slide(make_store: StoreFactory) -> None:
    limits = [limit("team:eng", rpm=10)]

    async def scenario(store: CounterStore) -> None:
        for _ in range(10):
            assert await take(store, limits, MINUTE) is None
        late = await take(store, limits, MINUTE + timedelta(seconds=59))
        # 1 s to the next minute, where 10 × (60 − t) / 60 + 1 ≤ 10 from t = 6 s.
        assert late is not None and late.retry_after_s == 7
        # The next minute starts with the previous one weighing in full, then fading.
        assert await take(store, limits, MINUTE + timedelta(minutes=1)) is not None
        half = MINUTE + timedelta(minutes=1, seconds=30)
        admitted = [await take(store, limits, half) for _ in range(6)]
        assert admitted[:5] == [None] * 5 and admitted[5] is not None
        # Two minutes on, the 12:00 minute is out of sight; 12:01 had 5 of 10.
        later = MINUTE + timedelta(minutes=2, seconds=30)
        results = [await take(store, limits, later) for _ in range(9)]
        assert results[:7] == [None] * 7 and results[7] is not None

    run(make_store, scenario)


def test_a_refusal_on_one_scope_counts_on_none(make_store: StoreFactory) -> None:
    key, team = limit("key:k2", rpm=100), limit("team:ops", rpm=3)

    async def scenario(store: CounterStore) -> None:
        for _ in range(3):
            assert await take(store, [key, team], MINUTE) is None
        refusal = await take(store, [key, team], MINUTE)
        assert refusal is not None and refusal.scope == "team:ops"
        assert refusal.headers["x-ratelimit-scope"] == "team:ops"
        assert refusal.headers["x-ratelimit-limit-requests"] == "3"
        assert refusal.headers["retry-after"] == "80"
        # The key counted 3, not 4.
        assert await take(store, [limit("key:k2", rpm=4)], MINUTE) is None
        assert await take(store, [limit("key:k2", rpm=4)], MINUTE) is not None

    run(make_store, scenario)


def test_unreachable_redis_fails_closed() -> None:
    async def scenario() -> None:
        store = RedisCounters("redis://127.0.0.1:1/0", timeout_s=0.5)
        try:
            with pytest.raises(StorageError, match=r"Redis at redis://127\.0\.0\.1:1/0"):
                await store.take([limit("key:k", rpm=5)], 0, MINUTE)
        finally:
            await store.close()

    asyncio.run(scenario())


# --- through a real gateway ----------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Limited:
    """A running gateway at a settable clock, its admin client and one API key."""

    def __init__(self, url: str, admin: httpx.Client, key: str, clock: Clock) -> None:
        self.url, self.admin, self.key, self.clock = url, admin, key, clock
        self.clients: dict[str, openai.OpenAI] = {}

    def openai(self, key: str | None = None) -> openai.OpenAI:
        key = key or self.key
        if key not in self.clients:
            self.clients[key] = openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0)
        return self.clients[key]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def limit(self, scope_type: str, scope_id: str, **per_minute: int) -> dict:
        body = {"scope": {"type": scope_type, "id": scope_id}, **per_minute}
        response = self.admin.post("/api/v1/rate-limits", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def key_id(self) -> str:
        keys = self.admin.get("/api/v1/keys").json()["keys"]
        return str(keys[0]["id"])

    def ask(self, key: str | None = None, max_tokens: int = 20) -> int:
        try:
            self.openai(key).chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, max_tokens=max_tokens
            )
        except openai.APIStatusError as error:
            return error.status_code
        return 200


def serve(settings: Settings, clock: Clock) -> Iterator[str]:
    from thrifty.app import create_app

    with serving(create_app(settings, clock=clock), lifespan="auto") as url:
        yield url


def running(settings: Settings) -> Iterator[Limited]:
    clock = Clock(MINUTE + timedelta(seconds=10))
    for url in serve(settings, clock):
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as admin:
            gateway = Limited(url, admin, provision(admin), clock)
            try:
                yield gateway
            finally:
                gateway.close()


@pytest.fixture
def limited(database_url: str) -> Iterator[Limited]:
    yield from running(Settings(database_url=database_url, admin_key=ADMIN))


@pytest.fixture
def limited_redis(tmp_path: Path) -> Iterator[Limited]:
    url = redis_url()
    settings = Settings(database_url=f"sqlite:///{tmp_path}/t.db", admin_key=ADMIN, redis_url=url)
    for gateway in running(settings):
        yield gateway
        forget_keys(url, f"thrifty:ratelimit:key:{gateway.key_id()}:*")


def check_429(gateway: Limited) -> None:
    key_id = gateway.key_id()
    gateway.limit("key", key_id, requests_per_minute=2)
    assert [gateway.ask(), gateway.ask()] == [200, 200]
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.openai().chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=20
        )
    response = caught.value.response
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limit_exceeded"
    assert error["rate_limit"]["scope"] == f"key:{key_id}"
    assert error["rate_limit"]["limit"] == "requests_per_minute"
    assert f"key:{key_id} allows 2 requests per minute" in error["message"]
    # 10 s into the minute: 50 s until the next one, where the 2 requests of this one weigh
    # 2 × (60 − t) / 60 and leave room for one more at t = 30 s.
    assert response.headers["retry-after"] == "80"
    assert response.headers["x-ratelimit-limit-requests"] == "2"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "80s"
    assert response.headers["x-ratelimit-scope"] == f"key:{key_id}"


def test_a_refused_request_is_a_429_in_openais_shape(limited: Limited) -> None:
    check_429(limited)
    audit = limited.admin.get("/api/v1/audit", params={"target_type": "rate_limit"}).json()
    assert [e["action"] for e in audit["entries"]] == ["rate_limit.created"]


def test_a_refused_request_is_a_429_with_redis_counters(limited_redis: Limited) -> None:
    check_429(limited_redis)


def test_unreachable_redis_is_a_503_for_limited_requests_only(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/t.db",
        admin_key=ADMIN,
        redis_url="redis://127.0.0.1:1/0",
    )
    for gateway in running(settings):
        assert gateway.ask() == 200  # no limit on the chain: Redis is never asked
        gateway.limit("team", "eng", requests_per_minute=100)
        with pytest.raises(openai.APIStatusError) as caught:
            gateway.openai().chat.completions.create(
                model="gpt-4o-mini", messages=MESSAGES, max_tokens=20
            )
        assert caught.value.status_code == 503
        assert "Redis at redis://127.0.0.1:1/0 is unreachable" in caught.value.message


def test_eighty_threads_against_fifty_per_minute(limited: Limited) -> None:
    limited.limit("user", "ann", requests_per_minute=50)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        status = limited.ask()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one) for _ in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 50 + [429] * 30


def test_team_limits_bind_every_user_of_the_team(limited: Limited) -> None:
    admin = limited.admin
    bob_user = {"id": "bob", "team_id": "eng", "name": "Bob"}
    assert admin.post("/api/v1/users", json=bob_user).status_code == 201
    bob = admin.post("/api/v1/keys", json={"user_id": "bob", "name": "b"}).json()["secret"]
    limited.limit("team", "eng", requests_per_minute=3)
    limited.limit("user", "bob", requests_per_minute=1)
    assert limited.ask(bob) == 200
    with pytest.raises(openai.RateLimitError) as caught:
        limited.openai(bob).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.response.json()["error"]["rate_limit"]["scope"] == "user:bob"
    assert [limited.ask(), limited.ask(), limited.ask()] == [200, 200, 429]
    response = httpx.post(
        f"{limited.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {limited.key}"},
        json={"model": "gpt-4o-mini", "messages": MESSAGES},
    )
    assert response.status_code == 429
    assert response.json()["error"]["rate_limit"]["scope"] == "team:eng"
    # Two minutes later the team has room again.
    limited.clock.now += timedelta(minutes=2)
    assert limited.ask() == 200


def test_tokens_per_minute_through_the_gateway(limited: Limited) -> None:
    limited.limit("organization", "acme", tokens_per_minute=100)
    prompt = count_chat(MESSAGES, "gpt-4o-mini").tokens
    first = prompt + 20  # input plus max_tokens
    assert limited.ask() == 200
    assert limited.ask(max_tokens=100 - first - prompt + 1) == 429
    assert limited.ask(max_tokens=100 - first - prompt) == 200
    assert limited.ask(max_tokens=1) == 429


def test_anthropic_sdk_gets_a_rate_limit_error(limited: Limited) -> None:
    limited.limit("key", limited.key_id(), requests_per_minute=1)
    with anthropic.Anthropic(base_url=limited.url, api_key=limited.key, max_retries=0) as client:
        client.messages.create(model="claude-haiku-4-5", messages=MESSAGES, max_tokens=20)
        with pytest.raises(anthropic.RateLimitError) as caught:
            client.messages.create(model="claude-haiku-4-5", messages=MESSAGES, max_tokens=20)
    body = caught.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert "allows 1 requests per minute" in body["error"]["message"]
    assert caught.value.response.headers["retry-after"] == "110"


def test_changes_apply_at_once_and_unlimited_chains_write_nothing(
    limited: Limited, database_url: str
) -> None:
    assert limited.ask() == 200
    database = Database(database_url)
    try:
        assert database.read(ratelimit_repo.counters) == []  # no limits: no counting at all
        created = limited.limit("user", "ann", requests_per_minute=1)
        assert [limited.ask(), limited.ask()] == [200, 429]
        raised = limited.admin.put(
            f"/api/v1/rate-limits/{created['id']}",
            json={"scope": {"type": "user", "id": "ann"}, "requests_per_minute": 5},
        )
        assert raised.status_code == 200, raised.text
        assert limited.ask() == 200
        assert limited.admin.delete(f"/api/v1/rate-limits/{created['id']}").status_code == 204
        assert all(limited.ask() == 200 for _ in range(5))
        rows = database.read(ratelimit_repo.counters)
        assert [(str(scope), count.requests) for scope, _, count in rows] == [("user:ann", 2)]
    finally:
        database.close()
