"""Benchmark of API key resolution: secret → Principal from the in-memory key snapshot.

Creates 10,000 keys through the repository in a fresh SQLite database, builds the snapshot
the app caches (``directory_repo.load_directory``), then times ``Directory.resolve`` for every
secret (SHA-256 of the secret, one dict lookup, the expiry check). The baseline in the same run
is a bare dict lookup of the same secrets in a dict of 10,000 entries, timed the same way, so
the cost of hashing and checking shows as the difference.

    python benchmarks/keys.py [--keys 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from thrifty.budgets.principal import Role
from thrifty.storage import directory_repo as repo
from thrifty.storage.database import Database

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def populate(database: Database, keys: int) -> list[str]:
    """One org, 10 teams, 100 users, ``keys`` keys (a tenth of them expiring); the secrets."""

    def write(conn):  # type: ignore[no-untyped-def]
        repo.insert_org(conn, org_id="acme", name="Acme", actor="bench", now=NOW)
        for t in range(10):
            repo.insert_team(
                conn, team_id=f"t{t}", org_id="acme", name=f"T{t}", actor="bench", now=NOW
            )
        for u in range(100):
            repo.insert_user(
                conn,
                user_id=f"u{u}",
                team_id=f"t{u % 10}",
                name=f"U{u}",
                email=None,
                role=Role.MEMBER,
                actor="bench",
                now=NOW,
            )
        secrets = []
        for k in range(keys):
            _, secret = repo.insert_key(
                conn,
                user_id=f"u{k % 100}",
                name=f"k{k}",
                allowed_models=None,
                tags=["bench"],
                default_priority=None,
                expires_at=NOW + timedelta(days=30) if k % 10 == 0 else None,
                actor="bench",
                now=NOW,
            )
            secrets.append(secret)
        return secrets

    return database.write(write)  # type: ignore[no-any-return]


def timed(fn: Callable[[str], object], secrets: list[str], rounds: int) -> list[float]:
    """Nanoseconds of each call, over ``rounds`` shuffled passes of every secret."""
    timings: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        order = secrets[:]
        random.shuffle(order)
        for secret in order:
            start = clock()
            fn(secret)
            timings.append(clock() - start)
    return timings


def line(name: str, timings: list[float]) -> str:
    ordered = sorted(timings)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return (
        f"{name:<34} median {statistics.median(ordered) / 1000:7.3f} µs   "
        f"p99 {p99 / 1000:7.3f} µs   ({len(ordered)} calls)"
    )


def main(keys: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{Path(tmp) / 'keys.db'}")
        database.migrate()
        started = time.perf_counter()
        secrets = populate(database, keys)
        print(f"created {keys} keys in {time.perf_counter() - started:.1f} s")
        builds = []
        for _ in range(3):
            started = time.perf_counter()
            directory = database.read(repo.load_directory)
            builds.append(time.perf_counter() - started)
        print(f"snapshot build (a refresh after a change): {min(builds) * 1000:.1f} ms")
        database.close()

    baseline = {secret: index for index, secret in enumerate(secrets)}
    resolve = directory.resolve
    timed(lambda s: resolve(s, NOW), secrets, 1)  # warm-up
    base = timed(baseline.__getitem__, secrets, rounds)
    resolved = timed(lambda s: resolve(s, NOW), secrets, rounds)
    print(line("baseline: bare dict lookup", base))
    print(line("Directory.resolve (sha256+lookup)", resolved))
    ratio = statistics.median(resolved) / statistics.median(base)
    print(f"resolve/baseline median: {ratio:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    main(arguments.keys, arguments.rounds)
