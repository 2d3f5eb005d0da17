"""reconcile: a provider's usage or cost export matched against the gateway's ledger.

Pure: the functions take text and rows and return values; no database, no files, no HTTP.

    invoice = parse_invoice(csv_text)                       # OpenAI, Anthropic or generic CSV
    report = reconcile(invoice, ledger_lines, price=price)  # by day, model and account
    report.json()                                           # for the API, USD as strings
    propose_adjustments(report.discrepancies)               # what to post to the ledger

Modules: ``table`` and ``cells`` read CSV text; ``layouts`` know each export's columns;
``parse`` picks the layout; ``models`` maps provider model names to gateway ids; ``match``
compares; ``report`` holds the result; ``adjustments`` proposes ledger entries. See
docs/reconciliation.md.
"""

from thrifty.reconcile.adjustments import Adjustment, propose_adjustment, propose_adjustments
from thrifty.reconcile.invoice import MEASURES, Invoice, InvoiceLine
from thrifty.reconcile.match import LedgerLine, Price, Tolerance, reconcile
from thrifty.reconcile.models import ModelMatch, match_model, match_models
from thrifty.reconcile.parse import LAYOUTS, parse_invoice
from thrifty.reconcile.report import KINDS, Discrepancy, Figures, Report

__all__ = [
    "KINDS",
    "LAYOUTS",
    "MEASURES",
    "Adjustment",
    "Discrepancy",
    "Figures",
    "Invoice",
    "InvoiceLine",
    "LedgerLine",
    "ModelMatch",
    "Price",
    "Report",
    "Tolerance",
    "match_model",
    "match_models",
    "parse_invoice",
    "propose_adjustment",
    "propose_adjustments",
    "reconcile",
]
