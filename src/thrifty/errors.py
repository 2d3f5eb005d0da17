"""The one exception tree of Thrifty.

Every error the service raises on purpose is a ``ThriftyError``. The domains raise these; only
the edges (``api``, ``gateway``, ``cli``) map them to HTTP statuses or exit codes.

    ThriftyError
     ├── ConfigError              start-up: a config file or setting is wrong (file, line, key)
     ├── InvalidInput             a request is malformed (names the field)          → 400 / 422
     │    └── UnknownModel        a model id nobody registered                     → 404 / 400
     ├── NotFound                 an addressed resource does not exist             → 404
     ├── Conflict                 the resource exists / state forbids the change   → 409
     ├── AuthenticationFailed     no or wrong credentials                          → 401
     ├── PermissionDenied         the credentials may not do this                  → 403
     ├── PricingError             no price is known for a model                    → 422
     ├── BudgetRefused            a budget of the chain refuses the request         → 402
     ├── RateLimited              a rate limit of the chain refuses the request     → 429
     └── StorageError             the database (or Redis) failed or is unreachable → 503
"""

from __future__ import annotations


class ThriftyError(Exception):
    """Base of every error Thrifty raises on purpose."""

    code = "thrifty_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigError(ThriftyError):
    """A configuration file or setting is invalid; the message names where and what."""

    code = "invalid_config"


class InvalidInput(ThriftyError):
    """A request or argument is malformed; ``field`` names the offending field."""

    code = "invalid_request"


class UnknownModel(InvalidInput):
    """A model id that is not registered."""

    code = "model_not_found"


class NotFound(ThriftyError):
    code = "not_found"


class Conflict(ThriftyError):
    code = "conflict"


class AuthenticationFailed(ThriftyError):
    code = "authentication_failed"


class PermissionDenied(ThriftyError):
    code = "permission_denied"


class PricingError(ThriftyError):
    """No price is known for a model (neither override nor catalog)."""

    code = "price_unknown"


class BudgetRefused(ThriftyError):
    """A request does not fit, or is blocked by, a budget of its chain (names the budget)."""

    code = "budget_exceeded"

    def __init__(self, message: str, *, reason: str, budget_id: str | None) -> None:
        super().__init__(message)
        self.code = reason
        self.budget_id = budget_id


class RateLimited(ThriftyError):
    """A request-per-minute or token-per-minute limit of the chain refuses the request.

    Names the limit (``limit_id``, ``scope``, ``kind``: ``requests_per_minute`` or
    ``tokens_per_minute``) and how many seconds until the window frees (``retry_after_s``).
    ``headers`` are the response headers the edges send with it."""

    code = "rate_limit_exceeded"

    def __init__(
        self,
        message: str,
        *,
        limit_id: str,
        scope: str,
        kind: str,
        retry_after_s: int,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.limit_id = limit_id
        self.scope = scope
        self.kind = kind
        self.retry_after_s = retry_after_s
        self.headers = {"retry-after": str(retry_after_s), **(headers or {})}


class StorageError(ThriftyError):
    code = "storage_unavailable"
