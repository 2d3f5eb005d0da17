"""The rate-limit repository on SQLite and PostgreSQL: limits, counters, pruning, and a
refused chain's count rolled back with its transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from thrifty.budgets.model import Scope, ScopeType
from thrifty.errors import Conflict, NotFound
from thrifty.storage import ratelimit_repo
from thrifty.storage.cache import read_version
from thrifty.storage.database import Database
from thrifty.storage.ratelimit_repo import RATE_LIMITS, WindowCount

TEAM = Scope(ScopeType.TEAM, "eng")
KEY = Scope(ScopeType.KEY, "key_1")


def test_limits_are_stored_replaced_and_deleted(database: Database, now: datetime) -> None:
    created = database.write(lambda c: ratelimit_repo.insert_limit(c, "rl_1", TEAM, 50, None, now))
    assert (created.scope, created.requests_per_minute, created.tokens_per_minute) == (
        TEAM,
        50,
        None,
    )
    assert created.created_at == now
    assert database.read(lambda c: read_version(c, RATE_LIMITS)) == 1
    later = now + timedelta(minutes=1)
    updated = database.write(
        lambda c: ratelimit_repo.update_limit(c, "rl_1", TEAM, None, 10_000, later)
    )
    assert (updated.requests_per_minute, updated.tokens_per_minute) == (None, 10_000)
    assert (updated.created_at, updated.updated_at) == (now, later)
    assert database.read(ratelimit_repo.load_limits) == {TEAM: updated}
    database.write(lambda c: ratelimit_repo.delete_limit(c, "rl_1"))
    assert database.read(ratelimit_repo.load_limits) == {}
    assert database.read(lambda c: read_version(c, RATE_LIMITS)) == 3
    with pytest.raises(NotFound) as missing:
        database.read(lambda c: ratelimit_repo.get_limit(c, "rl_1"))
    assert missing.value.field == "limit_id"


def test_one_limit_a_scope_and_an_id_once(database: Database, now: datetime) -> None:
    database.write(lambda c: ratelimit_repo.insert_limit(c, "rl_1", TEAM, 5, None, now))
    with pytest.raises(Conflict) as twice:
        database.write(lambda c: ratelimit_repo.insert_limit(c, "rl_2", TEAM, 6, None, now))
    assert twice.value.field == "scope" and "rl_1" in twice.value.message
    with pytest.raises(Conflict) as same_id:
        database.write(lambda c: ratelimit_repo.insert_limit(c, "rl_1", KEY, 6, None, now))
    assert same_id.value.field == "id"
    database.write(lambda c: ratelimit_repo.insert_limit(c, "rl_2", KEY, 6, None, now))
    with pytest.raises(Conflict):
        database.write(lambda c: ratelimit_repo.update_limit(c, "rl_2", TEAM, 6, None, now))


def test_counters_add_read_and_prune(database: Database, now: datetime) -> None:
    minute = now.replace(second=0, microsecond=0)
    added = database.write(lambda c: ratelimit_repo.add_to_window(c, [KEY, TEAM], minute, 30))
    assert added == {KEY: WindowCount(1, 30), TEAM: WindowCount(1, 30)}
    again = database.write(lambda c: ratelimit_repo.add_to_window(c, [TEAM], minute, 5))
    assert again == {TEAM: WindowCount(2, 35)}
    other = Scope(ScopeType.USER, "eng")  # same id, other type: a different counter
    assert database.read(lambda c: ratelimit_repo.read_window(c, [TEAM, other], minute)) == {
        TEAM: WindowCount(2, 35)
    }
    next_minute = minute + timedelta(minutes=1)
    database.write(lambda c: ratelimit_repo.add_to_window(c, [TEAM], next_minute, 1))
    assert database.read(lambda c: ratelimit_repo.read_window(c, [TEAM], next_minute)) == {
        TEAM: WindowCount(1, 1)
    }
    assert database.write(lambda c: ratelimit_repo.prune_windows(c, next_minute)) == 2
    rows = database.read(ratelimit_repo.counters)
    assert rows == [(TEAM, next_minute, WindowCount(1, 1))]


def test_a_failed_check_rolls_the_count_back(database: Database, now: datetime) -> None:
    minute = now.replace(second=0, microsecond=0)

    def refuse(conn: object) -> None:
        ratelimit_repo.add_to_window(conn, [KEY, TEAM], minute, 7)  # type: ignore[arg-type]
        raise Conflict("over the limit")

    with pytest.raises(Conflict):
        database.write(refuse)
    assert database.read(ratelimit_repo.counters) == []
