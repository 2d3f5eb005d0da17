"""Reading series from CSV: column detection, explicit columns, headerless files, time zones,
irregular steps, and errors that name the line and the column."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from thrifty.analytics.series import Series, build_series, infer_season, read_series
from thrifty.errors import InvalidInput

BIKE_LIKE = [
    "instant,dteday,season,yr,holiday,casual,registered,cnt",
    "1,2011-01-01,1,0,0,331,654,985",
    "2,2011-01-02,1,0,0,131,670,801",
    "3,2011-01-03,1,0,0,120,1229,1349",
]


def test_detects_the_date_column_and_prefers_a_value_named_column() -> None:
    series = read_series(BIKE_LIKE)
    assert series.values == (985.0, 801.0, 1349.0)  # cnt, not instant (the first numeric)
    assert series.timestamps == tuple(datetime(2011, 1, d, tzinfo=UTC) for d in (1, 2, 3))
    assert series.step == timedelta(days=1)
    assert infer_season(series) == 7


def test_explicit_columns_win() -> None:
    series = read_series(BIKE_LIKE, time_col="dteday", value_col="casual")
    assert series.values == (331.0, 131.0, 120.0)


def test_without_a_preferred_name_the_first_numeric_column_is_the_value() -> None:
    series = read_series(["when,tokens,requests", "2024-05-01,10,1", "2024-05-02,20,2"])
    assert series.values == (10.0, 20.0)
    assert series.timestamps is not None and series.timestamps[0] == datetime(
        2024, 5, 1, tzinfo=UTC
    )


def test_a_time_named_column_is_preferred_over_another_that_parses() -> None:
    lines = [
        "created,timestamp,cost",
        "2024-01-01,2024-02-01 10:00,1",
        "2024-01-02,2024-02-01 11:00,2",
    ]
    series = read_series(lines)
    assert series.step == timedelta(hours=1)


def test_one_number_a_line_is_a_series_without_timestamps() -> None:
    assert read_series(["3", "4.5", "", "6"]) == Series((3.0, 4.5, 6.0), None, None)
    assert read_series(["cost", "1", "2"]) == Series((1.0, 2.0))


def test_headerless_two_columns_are_named_by_position() -> None:
    series = read_series(["2024-01-01,5", "2024-01-02,7"])
    assert series.values == (5.0, 7.0)
    assert read_series(["2024-01-01,5,1", "2024-01-02,7,2"], value_col="3").values == (1.0, 2.0)


def test_reads_a_path_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("\ufeffdate,spend\n2024-03-01,1.5\n2024-03-02,2.5\n", "utf-8")
    assert read_series(path).values == (1.5, 2.5)
    assert read_series(str(path)).step == timedelta(days=1)


def test_timestamps_are_utc_naive_ones_taken_as_utc() -> None:
    lines = [
        "timestamp,value",
        "2024-01-01T02:00:00+02:00,1",
        "2024-01-01T01:00:00Z,2",
        "2024-01-01 02:00,3",
    ]
    series = read_series(lines)
    assert series.timestamps == tuple(datetime(2024, 1, 1, h, tzinfo=UTC) for h in (0, 1, 2))


def test_us_and_slash_dates() -> None:
    assert read_series(["date,value", "01/31/2024,1", "02/01/2024,2"]).step == timedelta(days=1)
    assert read_series(
        ["date,value", "2024/01/31 10:00,1", "2024/01/31 10:05,2"]
    ).step == timedelta(minutes=5)


def test_rows_are_sorted_and_repeated_times_keep_their_order() -> None:
    lines = ["timestamp,value", "2024-01-01 00:10,3", "2024-01-01 00:00,1", "2024-01-01 00:05,2",
             "2024-01-01 00:05,2.5"]  # fmt: skip
    series = read_series(lines)
    assert series.values == (1.0, 2.0, 2.5, 3.0)


def test_irregular_timestamps_get_the_median_step() -> None:
    minutes = [0, 5, 10, 16, 20, 25, 41, 45, 50]
    start = datetime(2015, 7, 10, 14, 0, tzinfo=UTC)
    series = build_series(range(len(minutes)), [start + timedelta(minutes=m) for m in minutes])
    assert series.step == timedelta(minutes=5)
    assert infer_season(series) == 288


@pytest.mark.parametrize(
    ("step", "points", "season"),
    [
        (timedelta(hours=1), 48, 24),
        (timedelta(minutes=5), 10, 288),
        (timedelta(minutes=10), 10, 144),
        (timedelta(days=1), 10, 7),
        (timedelta(weeks=1), 104, 52),
        (timedelta(weeks=1), 60, None),  # not two years
        (timedelta(days=30), 24, 12),
        (timedelta(hours=7), 50, None),
    ],
)
def test_infer_season(step: timedelta, points: int, season: int | None) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    series = build_series([1.0] * points, [start + i * step for i in range(points)])
    assert infer_season(series) == season


def test_no_timestamps_no_season() -> None:
    assert infer_season(Series((1.0, 2.0, 3.0))) is None


def _error(lines: list[str], **columns: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        read_series(lines, **columns)
    return caught.value


def test_a_bad_number_names_line_and_column() -> None:
    error = _error(["date,cost", "2024-01-01,1", "2024-01-02,abc"], value_col="cost")
    assert error.field == "cost"
    assert "line 3" in error.message and "'cost'" in error.message and "abc" in error.message


def test_a_value_column_that_starts_numeric_reports_its_bad_cell() -> None:
    error = _error(["date,cost", "2024-01-01,1", "2024-01-02,", "2024-01-03,3"])
    assert error.field == "cost" and "line 3" in error.message


def test_a_bad_timestamp_in_a_time_named_column_names_it() -> None:
    error = _error(["date,cost", "2024-01-01,1", "yesterday,2"])
    assert error.field == "date" and "line 3" in error.message and "yesterday" in error.message


def test_unknown_columns_are_named_with_the_choices() -> None:
    error = _error(BIKE_LIKE, value_col="spend")
    assert error.field == "value_col" and "'spend'" in error.message and "cnt" in error.message
    assert _error(BIKE_LIKE, time_col="when").field == "time_col"
    assert _error(BIKE_LIKE, value_col="dteday").field == "value_col"  # the time column


def test_files_without_numbers_rows_or_a_regular_shape() -> None:
    assert _error([]).field == "input"
    assert _error(["date,cost"]).field == "input"
    assert "no column holds only numbers" in _error(["name,team", "a,b"]).message
    assert "line 3" in _error(["date,cost", "2024-01-01,1", "2024-01-02,2,3"]).message
    assert "not a number" in _error(["1", "nan"]).message


def test_a_date_beside_an_hour_column_is_not_a_time_axis() -> None:
    lines = ["dteday,hr,cnt", *(f"2011-01-0{d},{h},{h + 1}" for d in (1, 2) for h in range(3))]
    error = _error(lines)
    assert error.field == "dteday" and "2 distinct times in 6 rows" in error.message


def test_an_unreadable_path_names_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read") as caught:
        read_series(tmp_path / "missing.csv")
    assert caught.value.field == "input"
