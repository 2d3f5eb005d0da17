"""budgets: scopes, periods, thresholds and the policy that turns budget states into restrictions.

Pure: no I/O and no clock (``now`` is always a parameter). The ledger that stores spend and
holds lives in ``thrifty.storage``. See docs/budgets.md.
"""

from thrifty.budgets.fit import FitResult, fits, headroom_nano
from thrifty.budgets.model import (
    BudgetSpec,
    BudgetState,
    Mode,
    Priority,
    Scope,
    ScopeType,
    applies_to,
)
from thrifty.budgets.overrides import Extension, Override, active_extension_nano
from thrifty.budgets.periods import CarryOverPolicy, Period, PeriodKind, Window, period_window
from thrifty.budgets.policy import Downgrading, Restrictions, restrictions_for
from thrifty.budgets.status import BudgetStatus, ScopeStatus, Status, scope_status, status_of
from thrifty.budgets.thresholds import DEFAULT_THRESHOLDS, Action, Threshold, thresholds_crossed

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Action",
    "BudgetSpec",
    "BudgetState",
    "BudgetStatus",
    "CarryOverPolicy",
    "Downgrading",
    "Extension",
    "FitResult",
    "Mode",
    "Override",
    "Period",
    "PeriodKind",
    "Priority",
    "Restrictions",
    "Scope",
    "ScopeStatus",
    "ScopeType",
    "Status",
    "Threshold",
    "Window",
    "active_extension_nano",
    "applies_to",
    "fits",
    "headroom_nano",
    "period_window",
    "restrictions_for",
    "scope_status",
    "status_of",
    "thresholds_crossed",
]
