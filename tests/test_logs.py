"""Structured logs: one JSON object a line, with the request id of the request being served."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from thrifty import logs
from thrifty.gateway.http import new_request_id
from thrifty.settings import Settings


@pytest.fixture
def restore() -> Iterator[None]:
    logger = logging.getLogger("thrifty")
    handlers, level, propagate = logger.handlers, logger.level, logger.propagate
    yield
    logger.handlers, logger.propagate = handlers, propagate
    logger.setLevel(level)


def test_json_lines_carry_the_request_id(restore: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json", "info")
    log = logging.getLogger("thrifty.gateway")
    log.info("before any request")
    request_id = new_request_id()
    log.info("attempt settled", extra={"model": "gpt-4o", "cost_usd": "0.01"})
    log.debug("not at info")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines] == ["before any request", "attempt settled"]
    assert lines[0]["request_id"] is None
    assert lines[1]["request_id"] == request_id and lines[1]["model"] == "gpt-4o"
    assert lines[1]["level"] == "info" and lines[1]["logger"] == "thrifty.gateway"


def test_text_format_and_settings(restore: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("text", "warning")
    logging.getLogger("thrifty").warning("plain")
    assert capsys.readouterr().err.rstrip().endswith("WARNING thrifty plain")
    settings = Settings.from_env({"THRIFTY_LOG_FORMAT": "TEXT", "THRIFTY_LOG_LEVEL": "debug"})
    assert (settings.log_format, settings.log_level) == ("text", "debug")
    assert Settings.from_env(settings.to_env()) == settings
    with pytest.raises(Exception, match="THRIFTY_LOG_FORMAT"):
        Settings.from_env({"THRIFTY_LOG_FORMAT": "xml"})
