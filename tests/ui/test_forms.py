from __future__ import annotations

from thrifty.ui.api import ApiError
from thrifty.ui.forms import GENERAL, field_errors

FIELDS = ("name", "limit", "thresholds", "scope.id", "scope")


def test_an_error_goes_next_to_the_field_its_param_names() -> None:
    error = ApiError(400, "thresholds.1.percent: must be 0 to 100", "thresholds.1.percent", "x")
    assert field_errors(error, FIELDS) == {"thresholds": error.message}
    assert field_errors(ApiError(400, "bad", "scope.id", None), FIELDS) == {"scope.id": "bad"}
    assert field_errors(ApiError(400, "bad", "scope.type", None), FIELDS) == {"scope": "bad"}
    assert field_errors(ApiError(409, "exists", "id", None), FIELDS) == {GENERAL: "exists"}
    assert field_errors(ApiError(400, "no field", None, None), FIELDS) == {GENERAL: "no field"}


def test_every_listed_problem_goes_next_to_its_own_field() -> None:
    details = (("name", "Field required"), ("limit", "bad amount"), ("limit", "second"),
               ("colour", "extra"))  # fmt: skip
    error = ApiError(422, "name: Field required (and 3 more problem(s))", "name", "x", details)
    assert field_errors(error, FIELDS) == {
        "name": "name: Field required",
        "limit": "limit: bad amount",
        GENERAL: "colour: extra",
    }
