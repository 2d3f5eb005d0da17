"""``thrifty export``: the same CSV and FOCUS files as the API, from the database."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.analytics.export import FOCUS_MANDATORY
from thrifty.cli import main
from thrifty.storage import ledger
from thrifty.storage.database import Database
from thrifty.storage.ledger import Charge, Usage

AT = datetime(2026, 11, 3, 10, tzinfo=UTC)


def _seed(url: str) -> None:
    database = Database(url)
    database.migrate()
    for i, (team, nano) in enumerate((("eng", 1_500_000_000), ("ops", 250_000_000))):
        charge = Charge(f"r{i}", (), nano, datetime(2026, 11, 3, 11, tzinfo=UTC), model="m",
                        team_id=team, org_id="acme", key_id=f"k{i}", tags=("web",))  # fmt: skip
        database.write(lambda c, ch=charge: ledger.reserve(c, ch, AT))
        usage = Usage(model="m", provider="sim", input_tokens=100, output_tokens=10)
        database.write(lambda c, r=f"r{i}", n=nano, u=usage: ledger.settle(c, r, n, u, AT))
    database.close()


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize("kind", ["csv", "focus"])
def test_export_writes_the_file(tmp_path: Path, kind: str) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    _seed(url)
    out = tmp_path / "out.csv"
    args = ["export", "--database-url", url, "--format", kind, "--start", "2026-11-01",
            "--end", "2026-12-01", "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    rows = _read(out)
    cost = "cost_usd" if kind == "csv" else "BilledCost"
    assert sum(Decimal(r[cost]) for r in rows) == Decimal("1.75")
    if kind == "focus":
        assert list(rows[0])[: len(FOCUS_MANDATORY)] == list(FOCUS_MANDATORY)
    assert main([*args, "--team", "ops"]) == 0
    assert [r[cost] for r in _read(out)] == ["0.25"]


def test_bad_dates_name_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    assert main(["export", "--database-url", url, "--start", "soon"]) == 2
    assert "--start" in capsys.readouterr().err
