"""Serve settings: command-line flags over ``THRIFTY_*`` environment variables over defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from thrifty.errors import ConfigError
from thrifty.storage.database import DEFAULT_URL

#: Every environment variable Thrifty reads, with what it sets (the docs test checks README).
ENVIRONMENT = {
    "THRIFTY_HOST": "address to listen on (default 127.0.0.1)",
    "THRIFTY_PORT": "port to listen on (default 8787)",
    "THRIFTY_WORKERS": "worker processes (default 1)",
    "THRIFTY_CONFIG": "path of the YAML config file (default: the built-in demo configuration)",
    "THRIFTY_DATABASE_URL": f"database URL (default {DEFAULT_URL})",
    "THRIFTY_ADMIN_KEY": "the admin API key (default: generated and printed at start)",
    "THRIFTY_REDIS_URL": "Redis URL for the rate-limit counters (default: in the database)",
    "THRIFTY_LOG_FORMAT": "json (default: one JSON object a line, with the request id) or text",
    "THRIFTY_LOG_LEVEL": "debug, info (default), warning or error",
}
_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    config: str | None = None
    database_url: str = DEFAULT_URL
    admin_key: str | None = None
    redis_url: str | None = None
    log_format: str = "json"
    log_level: str = "info"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        settings = cls()
        values: dict[str, object] = {}
        if "THRIFTY_HOST" in env:
            values["host"] = env["THRIFTY_HOST"]
        if "THRIFTY_PORT" in env:
            values["port"] = _integer(env["THRIFTY_PORT"], "THRIFTY_PORT", 1, 65535)
        if "THRIFTY_WORKERS" in env:
            values["workers"] = _integer(env["THRIFTY_WORKERS"], "THRIFTY_WORKERS", 1, 256)
        if env.get("THRIFTY_CONFIG"):
            values["config"] = env["THRIFTY_CONFIG"]
        if env.get("THRIFTY_DATABASE_URL"):
            values["database_url"] = env["THRIFTY_DATABASE_URL"]
        if env.get("THRIFTY_ADMIN_KEY"):
            values["admin_key"] = env["THRIFTY_ADMIN_KEY"]
        if env.get("THRIFTY_REDIS_URL"):
            values["redis_url"] = env["THRIFTY_REDIS_URL"]
        for name, field, choices in (
            ("THRIFTY_LOG_FORMAT", "log_format", ("json", "text")),
            ("THRIFTY_LOG_LEVEL", "log_level", _LEVELS),
        ):
            if env.get(name):
                value = env[name].lower()
                if value not in choices:
                    raise ConfigError(
                        f"{name}={env[name]!r}: one of {', '.join(choices)}", field=name
                    )
                values[field] = value
        return replace(settings, **values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The environment that makes ``from_env`` return these settings (for workers)."""
        env = {
            "THRIFTY_HOST": self.host,
            "THRIFTY_PORT": str(self.port),
            "THRIFTY_WORKERS": str(self.workers),
            "THRIFTY_DATABASE_URL": self.database_url,
            "THRIFTY_LOG_FORMAT": self.log_format,
            "THRIFTY_LOG_LEVEL": self.log_level,
        }
        if self.config:
            env["THRIFTY_CONFIG"] = self.config
        if self.admin_key:
            env["THRIFTY_ADMIN_KEY"] = self.admin_key
        if self.redis_url:
            env["THRIFTY_REDIS_URL"] = self.redis_url
        return env


def _integer(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: not a whole number", field=name) from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value}: must be between {low} and {high}", field=name)
    return value
