"""The steering rules in effect: the config file's ``rules``, then those stored through the API.

Reloaded without a restart: the background refresher calls :meth:`RuleBook.refresh` every
second, which re-reads the config file when its modification time moved and the stored rules
when another process changed them (their cache version). A changed file that no longer
validates is refused — the rules in effect stay, and the error is logged and kept in
``last_error`` — so a typo never drops every rule. ``POST /api/v1/rules/reload`` forces both
and reports the error instead.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from thrifty.config.loader import load_config
from thrifty.errors import ConfigError
from thrifty.rules import RuleSet
from thrifty.storage import selection_repo
from thrifty.storage.cache import read_version
from thrifty.storage.database import Database

log = logging.getLogger("thrifty.rules")


class RuleBook:
    name = "rules"

    def __init__(
        self, config_path: str | None, config_rules: list[dict[str, Any]], database: Database
    ) -> None:
        self.config_path = config_path
        self.database = database
        self.config_rules = list(config_rules)
        self.stored_rules: list[dict[str, Any]] = []
        self.last_error: str | None = None
        self._mtime = self._file_mtime()
        self._version = -1
        self._lock = threading.Lock()
        self._rules = self.combine(self.config_rules, [])

    def _file_mtime(self) -> float | None:
        if self.config_path is None:
            return None
        try:
            return Path(self.config_path).stat().st_mtime
        except OSError:
            return None

    @staticmethod
    def combine(config_rules: list[dict[str, Any]], stored: list[dict[str, Any]]) -> RuleSet:
        """The config file's rules followed by the stored ones (names unique across both)."""
        return RuleSet.parse([*config_rules, *stored], source="rules")

    def get(self) -> RuleSet:
        return self._rules

    def _read_stored(self) -> tuple[int, list[dict[str, Any]]]:
        return self.database.read(
            lambda conn: (
                read_version(conn, selection_repo.RULES),
                selection_repo.load_stored_rules(conn),
            )
        )

    def refresh(self, *, force: bool = False) -> RuleSet:
        """Pick up a changed file or changed stored rules; raise ConfigError only if forced."""
        with self._lock:
            config_rules = self.config_rules
            mtime = self._file_mtime()
            if self.config_path is not None and (force or mtime != self._mtime):
                try:
                    config_rules = list(load_config(self.config_path).config.rules)
                except ConfigError as exc:
                    self.last_error = exc.message
                    self._mtime = mtime
                    if force:
                        raise
                    log.error("config file changed but is invalid; keeping the rules: %s", exc)
                    return self._rules
            version = self.database.read(lambda conn: read_version(conn, selection_repo.RULES))
            stored = self.stored_rules
            if force or version != self._version:
                version, stored = self._read_stored()
            if not force and config_rules is self.config_rules and version == self._version:
                return self._rules
            try:
                rules = self.combine(config_rules, stored)
            except ConfigError as exc:
                self.last_error = exc.message
                if force:
                    raise
                log.error("rules do not validate; keeping the rules in effect: %s", exc)
                return self._rules
            self.config_rules, self.stored_rules = config_rules, stored
            self._mtime, self._version, self._rules = mtime, version, rules
            self.last_error = None
            return rules
