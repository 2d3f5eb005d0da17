"""``thrifty anomalies`` end to end on CSV files: the three formats and their fields, the
seasons from the timestamps or ``--season``, sensitivity and threshold, and bad input that
names the flag."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from thrifty.commands.anomalies import COLUMNS, add_commands
from thrifty.errors import InvalidInput

START = datetime(2024, 3, 4, tzinfo=UTC)
SPIKE, DROP = 20 * 24 + 3, 30 * 24 + 15


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="thrifty")
    add_commands(root.add_subparsers(dest="command", required=True))
    return root


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    args = parser().parse_args(["anomalies", *argv])
    assert args.run(args) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def fails(argv: list[str]) -> InvalidInput:
    args = parser().parse_args(["anomalies", *argv])
    with pytest.raises(InvalidInput) as caught:
        args.run(args)
    return caught.value


def spend(count: int = 42 * 24) -> list[float]:
    """Hourly spend with a daily cycle, a spike at night and a drop in the afternoon."""
    rng = np.random.default_rng(3)
    hours = np.arange(count)
    values = 100 + 40 * np.sin(2 * np.pi * (hours - 9) / 24) + rng.normal(0, 3, count)
    values[SPIKE] += 60
    values[DROP] -= 90
    return [float(v) for v in values]


@pytest.fixture
def hourly_csv(tmp_path: Path) -> Path:
    lines = ["team,hour,cost"]
    for i, value in enumerate(spend()):
        lines.append(f"core,{(START + timedelta(hours=i)).isoformat()},{value:.4f}")
    path = tmp_path / "spend.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_json_is_an_array_of_the_flagged_points(
    hourly_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = json.loads(run(["--input", str(hourly_csv), "--format", "json"], capsys))
    assert [r["index"] for r in rows] == [SPIKE, DROP]
    assert all(list(r) == list(COLUMNS) for r in rows)
    spike, drop = rows
    assert spike["timestamp"] == (START + timedelta(hours=SPIKE)).isoformat()
    assert spike["direction"] == "spike" and drop["direction"] == "drop"
    assert spike["value"] > spike["expected"] and drop["value"] < drop["expected"]
    assert all(r["score"] >= 1 for r in rows)
    assert {r["severity"] for r in rows} <= {"low", "medium", "high", "critical"}
    assert {r["check"] for r in rows} <= {"point", "shift", "range"}


def test_csv_has_a_header_and_one_row_per_flag(
    hourly_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(["--input", str(hourly_csv), "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["index"]) for r in rows] == [SPIKE, DROP]
    assert list(rows[0]) == list(COLUMNS)
    assert float(rows[0]["value"]) == pytest.approx(spend()[SPIKE])


def test_table_is_the_default(hourly_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = run(["--input", str(hourly_csv)], capsys).splitlines()
    assert lines[0].split() == list(COLUMNS)
    assert [int(line.split()[0]) for line in lines[1:]] == [SPIKE, DROP]


def test_no_flags_is_an_empty_array_or_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "flat.csv"
    path.write_text("day,value\n" + "".join(f"2024-01-{d:02d},5\n" for d in range(1, 29)), "utf-8")
    assert json.loads(run(["--input", str(path), "--format", "json"], capsys)) == []
    assert run(["--input", str(path)], capsys) == "no anomalies\n"
    assert run(["--input", str(path), "--format", "csv"], capsys) == ",".join(COLUMNS) + "\n"


def test_a_file_of_numbers_takes_its_season_from_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "numbers.txt"
    path.write_text("\n".join(f"{v:.4f}" for v in spend()) + "\n", "utf-8")
    out = run(["--input", str(path), "--format", "json", "--season", "24,168"], capsys)
    rows = json.loads(out)
    assert [r["index"] for r in rows] == [SPIKE, DROP]
    assert all(r["timestamp"] is None for r in rows)


def test_columns_can_be_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "two.csv"
    lines = ["at,tokens,cost"]
    for i, value in enumerate(spend()):
        lines.append(f"{(START + timedelta(hours=i)).isoformat()},7,{value:.4f}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    argv = ["--input", str(path), "--format", "json", "--time-col", "at", "--value-col", "cost"]
    assert [r["index"] for r in json.loads(run(argv, capsys))] == [SPIKE, DROP]
    argv[-1] = "tokens"  # a constant column: nothing to flag
    assert json.loads(run(argv, capsys)) == []


def test_sensitivity_and_threshold_move_the_line(
    hourly_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--input", str(hourly_csv), "--format", "json"]
    scores = [r["score"] for r in json.loads(run(base, capsys))]
    high = json.loads(run([*base, "--threshold", str(max(scores) + 1)], capsys))
    assert high == []
    low = json.loads(run([*base, "--sensitivity", "low"], capsys))
    assert all(r["score"] >= 1.5 for r in low)
    assert len(json.loads(run([*base, "--sensitivity", "high"], capsys))) >= len(scores)
    assert json.loads(run([*base, "--warmup", str(DROP + 1)], capsys)) == []
    with pytest.raises(SystemExit):
        parser().parse_args(["anomalies", *base, "--sensitivity", "low", "--threshold", "2"])


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--season", "daily"], "--season"),
        (["--season", "-1"], "--season"),
        (["--threshold", "0"], "--threshold"),
        (["--threshold", "nan"], "--threshold"),
        (["--warmup", "-3"], "--warmup"),
        (["--time-col", "nope"], "--time-col"),
        (["--value-col", "team"], "--value-col"),
    ],
)
def test_bad_flags_name_the_flag(hourly_csv: Path, argv: list[str], field: str) -> None:
    error = fails(["--input", str(hourly_csv), *argv])
    assert error.field == field


def test_a_missing_or_broken_file_names_the_input(tmp_path: Path) -> None:
    error = fails(["--input", str(tmp_path / "none.csv")])
    assert error.field == "--input" and str(tmp_path / "none.csv") in error.message
    broken = tmp_path / "broken.csv"
    broken.write_text("hour,cost\n2024-01-01T00:00:00Z,1\n2024-01-01T01:00:00Z,lots\n", "utf-8")
    error = fails(["--input", str(broken)])
    assert "line 3" in error.message and error.message.startswith(str(broken))
