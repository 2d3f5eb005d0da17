"""A Python client of Thrifty for agents (docs/client.md): budget status, estimates, model
selection, holds for calls made elsewhere, and ``operation``, a context manager that holds
one agent operation's worst case, tags its gateway calls and settles (or voids) on exit.

    from thrifty.client import BudgetExhausted, Client

    with Client(api_key=key) as thrifty, thrifty.operation("summarise", agent="scout") as op:
        openai_client.chat.completions.create(..., extra_headers=op.headers)

It needs only httpx; it imports nothing of the server.
"""

from thrifty.client.aio import AsyncClient, AsyncOperationContext
from thrifty.client.budgets import (
    Budget,
    BudgetStatus,
    ChainStatus,
    Identity,
    Restrictions,
    Scope,
    ScopeStatus,
)
from thrifty.client.errors import (
    ApprovalRequired,
    AuthenticationFailed,
    BudgetExhausted,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    Refused,
    SelectionFailed,
    ServerUnavailable,
    ThriftyError,
    error_from_response,
    gateway_error,
)
from thrifty.client.operation import Operation
from thrifty.client.results import (
    Alternative,
    CostEstimate,
    Hold,
    ModelEstimate,
    Selection,
    Settlement,
    Usage,
)
from thrifty.client.sync import Client, OperationContext

__all__ = [
    "Alternative",
    "ApprovalRequired",
    "AsyncClient",
    "AsyncOperationContext",
    "AuthenticationFailed",
    "Budget",
    "BudgetExhausted",
    "BudgetStatus",
    "ChainStatus",
    "Client",
    "Conflict",
    "CostEstimate",
    "Hold",
    "Identity",
    "InvalidRequest",
    "ModelEstimate",
    "NotFound",
    "Operation",
    "OperationContext",
    "PermissionDenied",
    "RateLimited",
    "Refused",
    "Restrictions",
    "Scope",
    "ScopeStatus",
    "Selection",
    "SelectionFailed",
    "ServerUnavailable",
    "Settlement",
    "ThriftyError",
    "Usage",
    "error_from_response",
    "gateway_error",
]
