"""``thrifty router train`` and ``thrifty replay`` end to end on a slice of RouterBench: the
choices file lets anyone recompute the report's totals, and bad input exits with the line."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from thrifty.cli import main

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
ROUTERBENCH = SHARED / "data" / "routerbench" / "train.jsonl"


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two disjoint slices of RouterBench: 300 prompts to train on, 150 to replay (with
    every model's answer, so the strongest model's cost is a plain sum)."""
    if not ROUTERBENCH.exists():  # shared/ lies beside the clone; in CI it must
        if os.environ.get("CI"):
            pytest.fail(f"{ROUTERBENCH} is not there: CI runs every test")
        pytest.skip(f"{ROUTERBENCH} is not there")
    lines = ROUTERBENCH.read_text("utf-8").splitlines()
    folder = tmp_path_factory.mktemp("routerbench")
    train, other = folder / "train.jsonl", folder / "other.jsonl"
    train.write_text("\n".join(lines[0::7][:300]) + "\n", "utf-8")
    complete = [x for x in lines[3::7] if len(json.loads(x)["outcomes"]) == 11]
    other.write_text("\n".join(complete[:150]) + "\n", "utf-8")
    return train, other


@pytest.fixture(scope="module")
def router_file(split: tuple[Path, Path]) -> Path:
    out = split[0].parent / "router.json"
    code = main(["router", "train", "--data", str(split[0]), "--out", str(out),
                 "--min-quality", "0.99", "--folds", "3", "--seed", "1"])  # fmt: skip
    assert code == 0
    return out


def test_train_writes_a_calibrated_router(router_file: Path) -> None:
    raw = json.loads(router_file.read_text("utf-8"))
    assert raw["format"] == "thrifty-learned-router"
    point = next(p for p in raw["operatingPoints"] if p["minQuality"] == 0.99)
    assert point["validatedQualityShare"] >= 0.99
    assert raw["training"] == {
        "prompts": 300,
        "folds": 3,
        "seed": 1,
        "source": raw["training"]["source"],
    }


def test_replay_choices_recompute_the_report(
    split: tuple[Path, Path], router_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    choices = tmp_path / "choices.jsonl"
    code = main(["replay", "--data", str(split[1]), "--router", str(router_file),
                 "--choices", str(choices), "--format", "json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    picks = [json.loads(x) for x in choices.read_text("utf-8").splitlines()]
    rows = [json.loads(x, parse_float=Decimal) for x in split[1].read_text("utf-8").splitlines()]
    assert [p["id"] for p in picks] == [r["id"] for r in rows]
    cost = sum((r["outcomes"][p["model"]]["cost"] for r, p in zip(rows, picks, strict=True)),
               Decimal(0))  # fmt: skip
    quality = sum(r["outcomes"][p["model"]]["quality"] for r, p in zip(rows, picks, strict=True))
    result = report["results"][0]
    assert Decimal(result["totalCost"]) == cost
    assert result["meanQuality"] == pytest.approx(float(quality) / len(rows), abs=1e-6)
    strongest = sum((r["outcomes"]["gpt-4-1106-preview"]["cost"] for r in rows), Decimal(0))
    assert result["costShare"] == pytest.approx(float(cost / strongest), abs=1e-5)
    assert report["strongestModel"] == "gpt-4-1106-preview"
    assert report["oracle"]["qualityShare"] > 1.0
    assert len(report["curve"]) > 10 and 0 < report["areaUnderCurve"] < 1.2
    assert any(name.startswith("per task") for name in report["baselines"])


def test_replay_without_a_router_and_every_strategy(
    split: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    strategies = "cost-aware,cheapest,quality-first"
    code = main(["replay", "--data", str(split[1]), "--no-curve", "--format", "table",
                 "--strategy", strategies, "--min-quality", "0.9,0.99"])  # fmt: skip
    assert code == 0
    table = capsys.readouterr().out
    assert "mean quality per model" in table and "cheapest @ 0.9" in table


def test_errors_name_the_line_and_exit_2(
    split: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(split[1].read_text("utf-8").splitlines()[0] + "\n{oops\n", "utf-8")
    assert main(["replay", "--data", str(bad)]) == 2
    assert f"{bad}:2: line: not valid JSON" in capsys.readouterr().err
    assert main(["replay", "--data", str(split[1]), "--strategy", "fast"]) == 2
    assert "--strategy" in capsys.readouterr().err


def test_a_threshold_the_router_was_not_calibrated_for_is_refused(
    split: tuple[Path, Path], router_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--data", str(split[1]), "--router", str(router_file),
                 "--min-quality", "0.42"]) == 2  # fmt: skip
    assert "--min-quality 0.42" in capsys.readouterr().err


def test_bad_content_scales_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from thrifty.cli import main

    args = ["router", "train", "--data", str(tmp_path / "x.jsonl"), "--out", str(tmp_path / "r")]
    assert main([*args, "--content-scales", "0,big"]) == 2
    assert "--content-scales takes comma-separated numbers" in capsys.readouterr().err
    assert main([*args, "--content-scales", "-1"]) == 2
    assert "from 0 to 10" in capsys.readouterr().err
