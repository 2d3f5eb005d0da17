"""``thrifty forecast`` end to end on CSV files: the formats, the inferred frequency, headerless
input with ``--season``, ``--backtest`` on stderr, and bad input that names the flag or line."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from thrifty.commands.forecast import add_commands
from thrifty.errors import InvalidInput

WEEK = [1.0, 1.1, 1.15, 1.1, 1.05, 0.7, 0.6]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    parser = argparse.ArgumentParser(prog="thrifty")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    assert args.run(args) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def fails(argv: list[str]) -> InvalidInput:
    parser = argparse.ArgumentParser(prog="thrifty")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    with pytest.raises(InvalidInput) as caught:
        args.run(args)
    return caught.value


@pytest.fixture
def daily_csv(tmp_path: Path) -> Path:
    """120 days of spend with a weekly pattern, an unused id column first."""
    rng = np.random.default_rng(7)
    lines = ["id,day,team,spend"]
    for i in range(120):
        spend = 40 * WEEK[i % 7] * float(np.exp(rng.normal(0, 0.05)))
        lines.append(f"{i},{date(2024, 1, 1) + timedelta(days=i)},core,{spend:.4f}")
    path = tmp_path / "spend.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_json_is_an_array_of_one_object_per_day(
    daily_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = run(
        ["forecast", "--input", str(daily_csv), "--horizon", "10", "--format", "json"], capsys
    )
    rows = json.loads(out)
    assert err == "" and len(rows) == 10
    assert set(rows[0]) == {
        "step",
        "timestamp",
        "value",
        "lower80",
        "upper80",
        "lower95",
        "upper95",
    }
    assert [r["timestamp"] for r in rows[:2]] == [
        "2024-04-30T00:00:00+00:00",
        "2024-05-01T00:00:00+00:00",
    ]
    assert [r["step"] for r in rows] == list(range(1, 11))
    for r in rows:
        assert r["lower95"] <= r["lower80"] <= r["value"] <= r["upper80"] <= r["upper95"]
    # Saturday 2024-05-04 and Sunday are the low days of the pattern (0.7, 0.6 × 40)
    assert rows[4]["value"] == pytest.approx(28, rel=0.1)
    assert rows[5]["value"] == pytest.approx(24, rel=0.1)


def test_csv_and_table_formats(daily_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(
        ["forecast", "--input", str(daily_csv), "--horizon", "3", "--format", "csv"], capsys
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 3 and rows[2]["timestamp"] == "2024-05-02T00:00:00+00:00"
    assert float(rows[0]["lower80"]) <= float(rows[0]["value"]) <= float(rows[0]["upper80"])
    out, _ = run(["forecast", "--input", str(daily_csv), "--horizon", "3"], capsys)
    lines = out.splitlines()
    assert lines[0].split() == [
        "step",
        "timestamp",
        "value",
        "lower80",
        "upper80",
        "lower95",
        "upper95",
    ]
    assert lines[1].split()[:2] == ["1", "2024-04-30T00:00:00+00:00"]
    assert "season: 7" in lines[-1]


def test_explicit_value_column(daily_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run(["forecast", "--input", str(daily_csv), "--horizon", "2", "--format", "json",
                  "--time-col", "day", "--value-col", "id"], capsys)  # fmt: skip
    assert json.loads(out)[0]["value"] == pytest.approx(120, rel=0.05)  # the id counts up


def test_hourly_input_forecasts_hours(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    lines = ["timestamp,cost"] + [
        f"{(start + timedelta(hours=h)).isoformat()},{10 + 5 * np.sin(2 * np.pi * h / 24):.3f}"
        for h in range(24 * 10)
    ]
    path = tmp_path / "hourly.csv"
    path.write_text("\n".join(lines), "utf-8")
    out, _ = run(["forecast", "--input", str(path), "--horizon", "5", "--format", "json"], capsys)
    stamps = [datetime.fromisoformat(r["timestamp"]) for r in json.loads(out)]
    assert stamps == [start + timedelta(hours=24 * 10 + k) for k in range(5)]


def test_one_value_a_line_with_a_season(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern = [3.0, 8.0, 5.0, 1.0]
    path = tmp_path / "values.txt"
    path.write_text("\n".join(str(v) for v in pattern * 10) + "\n", "utf-8")
    out, _ = run(["forecast", "--input", str(path), "--horizon", "8", "--season", "4",
                  "--format", "json"], capsys)  # fmt: skip
    rows = json.loads(out)
    assert all(r["timestamp"] is None for r in rows)
    assert [r["value"] for r in rows] == pytest.approx(pattern * 2, rel=0.02)
    out, _ = run(["forecast", "--input", str(path), "--horizon", "2"], capsys)
    assert out.splitlines()[1].split()[1] == "-"


def test_backtest_goes_to_stderr(daily_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "forecast",
        "--input",
        str(daily_csv),
        "--horizon",
        "14",
        "--backtest",
        "--format",
        "json",
    ]
    out, err = run([*argv, "--folds", "3"], capsys)
    assert len(json.loads(out)) == 14  # stdout keeps its shape
    report = json.loads(err)
    assert report["horizon"] == 14 and report["season"] == 7
    assert [f["origin"] for f in report["folds"]] == [78, 92, 106]
    assert report["median_mape"] < report["median_naive_mape"]
    assert 0 <= report["coverage95"] <= 1
    _, err = run(argv[:-2], capsys)  # table, as many folds as fit (up to 12)
    assert err.startswith("backtest: 8 folds of 14 steps, season 7")
    assert "median_mape=" in err.splitlines()[-1]


def test_bad_input_names_the_flag_or_line(daily_csv: Path, tmp_path: Path) -> None:
    base = ["forecast", "--input", str(daily_csv)]
    assert fails([*base, "--horizon", "0"]).field == "--horizon"
    assert fails([*base, "--season", "0"]).field == "--season"
    assert fails([*base, "--backtest", "--folds", "0"]).field == "--folds"
    assert fails([*base, "--backtest", "--folds", "9", "--horizon", "14"]).field == "--folds"
    error = fails([*base, "--value-col", "cost"])
    assert error.field == "--value-col" and "'cost'" in error.message and "spend" in error.message
    assert error.message.startswith(str(daily_csv))
    assert fails([*base, "--time-col", "when"]).field == "--time-col"
    missing = fails(["forecast", "--input", str(tmp_path / "nope.csv")])
    assert missing.field == "--input" and "cannot read" in missing.message
    bad = tmp_path / "bad.csv"
    bad.write_text("date,cost\n2024-01-01,1\n2024-01-02,x\n", "utf-8")
    error = fails(["forecast", "--input", str(bad)])
    assert error.field == "cost" and "line 3" in error.message
    single = tmp_path / "single.csv"
    single.write_text("cost\n5\n", "utf-8")
    assert fails(["forecast", "--input", str(single)]).field == "--input"
