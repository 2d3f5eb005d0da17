"""reconcile: each fixture export against a ledger with planted discrepancies.

Every scenario plants, on 2025-03-01..04 with two accounts: a group billed that the ledger
lacks (missing_in_ledger), a ledger group the invoice lacks (missing_in_invoice), a cost off
by less than the tolerance (not reported), a cost off by more (cost_mismatch), and, where the
export has tokens, a token count off (tokens_mismatch). The invoices name models with a date
suffix (or a display name), the ledger by gateway id.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from reconcile_support import day, fixture, line, price, usd

from thrifty.reconcile import (
    Discrepancy,
    Figures,
    LedgerLine,
    Report,
    Tolerance,
    parse_invoice,
    propose_adjustments,
    reconcile,
)

# The ledger for the OpenAI fixtures and the generic one (same usage, gateway ids).
OPENAI_LEDGER = [
    line(1, "gpt-4o", "proj_a", (200_000, 40_000, 20_000), 50, usd("0.65")),  # agrees
    line(1, "gpt-4o", "proj_b", (100_000, 0, 10_000), 20, usd("0.346")),  # $0.004 under
    # 2025-03-02 gpt-4o proj_a: billed, not in the ledger
    line(2, "gpt-4o-mini", "proj_b", (1_000_000, 0, 200_000), 300, usd("0.27")),  # not billed
    line(3, "gpt-4o-mini", "proj_b", (2_000_000, 500_000, 1_000_000), 900, usd("0.3625")),
    line(4, "gpt-4o-mini", "proj_a", (10_000, 0, 1_100), 5, usd("0.00216")),  # 100 more out
    line(6, "gpt-4o", "proj_a", (1, 0, 1), 1, 1),  # after the invoice's period
]


def summary(found: Discrepancy) -> tuple[object, ...]:
    return (found.kind, found.day, found.model, found.account, found.delta_nano, found.differing)


def test_openai_usage_priced_from_its_tokens() -> None:
    report = reconcile(parse_invoice(fixture("openai_usage.csv")), OPENAI_LEDGER, price=price)
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_ledger", day(2), "gpt-4o", "proj_a", usd("1.375"),
         ("input_tokens", "cached_input_tokens", "output_tokens", "cost")),
        ("cost_mismatch", day(3), "gpt-4o-mini", "proj_b", usd("0.50"), ("cost",)),
        ("missing_in_invoice", day(2), "gpt-4o-mini", "proj_b", -usd("0.27"),
         ("input_tokens", "output_tokens", "cost")),
        ("tokens_mismatch", day(4), "gpt-4o-mini", "proj_a", -usd("0.00006"), ("output_tokens",)),
    ]  # fmt: skip
    missing, mismatch, unbilled, tokens = report.discrepancies
    assert missing.invoice_rows == (4,) and missing.invoice_models == ("gpt-4o-2024-08-06",)
    assert missing.ledger is None and missing.delta_percent is None
    assert mismatch.delta_percent == Decimal("137.93")  # of the ledger's $0.3625
    assert mismatch.cost_source == "priced"
    assert unbilled.invoice is None and unbilled.delta.requests == -300
    assert tokens.delta == Figures(0, 0, -100, 0, -usd("0.00006"))
    assert report.cost_source == "priced"
    assert report.invoice == Figures(2_710_000, 640_000, 1_081_000, 1_055, usd("3.2396"))
    assert report.ledger == Figures(3_310_000, 540_000, 1_231_100, 1_275, usd("1.63066"))
    assert report.delta == Figures(-600_000, 100_000, -150_100, -220, usd("1.60894"))
    assert (report.first_day, report.last_day) == (day(1), day(5))  # 03-05: an empty bucket
    assert report.ledger_lines_outside_period == 1
    assert report.counts == {
        "groups": 6,
        "matched": 4,
        "discrepancies": 4,
        "missing_in_ledger": 1,
        "missing_in_invoice": 1,
        "cost_mismatch": 1,
        "tokens_mismatch": 1,
    }
    assert [(m.invoice_model, m.ledger_model, m.rule) for m in report.models] == [
        ("gpt-4o-2024-08-06", "gpt-4o", "version_suffix"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "version_suffix"),
    ]
    assert report.unmapped_models == ()


def test_openai_usage_without_a_price_compares_tokens_only() -> None:
    report = reconcile(parse_invoice(fixture("openai_usage.csv")), OPENAI_LEDGER)
    # The cost mismatch of 03-03 has equal tokens: a usage export cannot see it.
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_invoice", day(2), "gpt-4o-mini", "proj_b", -usd("0.27"),
         ("input_tokens", "output_tokens", "cost")),
        ("missing_in_ledger", day(2), "gpt-4o", "proj_a", None,
         ("input_tokens", "cached_input_tokens", "output_tokens")),
        ("tokens_mismatch", day(4), "gpt-4o-mini", "proj_a", None, ("output_tokens",)),
    ]  # fmt: skip
    assert report.cost_source == "none"
    assert report.invoice.cost_nano is None and report.delta.cost_nano is None
    assert report.discrepancies[1].cost_source is None


def test_openai_costs() -> None:
    ledger = [*OPENAI_LEDGER[:4], line(4, "gpt-4o-mini", "proj_a", cost_nano=usd("149"))]
    report = reconcile(parse_invoice(fixture("openai_costs.csv")), ledger)
    # 03-04: $150 against $149 is $1 off but under 1%: a mismatch must exceed both.
    # The file search line ($0.000271) has no ledger model and is under $0.01.
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_ledger", day(2), "gpt-4o", "proj_a", usd("1.375"), ("cost",)),
        ("cost_mismatch", day(3), "gpt-4o-mini", "proj_b", usd("0.50"), ("cost",)),
        ("missing_in_invoice", day(2), "gpt-4o-mini", "proj_b", -usd("0.27"), ("cost",)),
    ]
    assert report.discrepancies[0].invoice_rows == (7, 8, 9)  # input, cached input, output
    assert report.discrepancies[0].cost_source == "billed"
    assert report.cost_source == "billed"
    assert report.invoice == Figures(None, None, None, None, usd("153.237771"))
    assert report.ledger.cost_nano == usd("150.6285")
    assert report.delta.cost_nano == usd("2.609271")
    assert report.unmapped_models == ("assistants api | file search",)
    assert report.counts["matched"] == 4 and report.counts["discrepancies"] == 3


ANTHROPIC_LEDGER = [
    line(1, "claude-sonnet-4", "Default", (200_000, 40_000, 20_000), 12, usd("0.792")),
    line(1, "claude-sonnet-4", "Research", (100_000, 0, 10_000), 4, usd("0.445")),  # $0.005 under
    # 2025-03-02 claude-sonnet-4 Default: billed, not in the ledger
    line(2, "anthropic/claude-3-5-haiku", "Research", (1_000_000, 0, 200_000), 100, usd("1.6")),
    line(3, "anthropic/claude-3-5-haiku", "Research", (2_000_000, 500_000, 1_000_000), 700,
         usd("4.74")),
    line(4, "anthropic/claude-3-5-haiku", "Default", (10_000, 0, 1_100), 3, usd("0.0124")),
    line(5, "claude-sonnet-4", "Default", (1, 0, 1), 1, 1),  # after the invoice's period
]  # fmt: skip


def test_anthropic_usage_priced_from_its_tokens() -> None:
    report = reconcile(parse_invoice(fixture("anthropic_usage.csv")), ANTHROPIC_LEDGER, price=price)
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_ledger", day(2), "claude-sonnet-4", "Default", usd("1.734"),
         ("input_tokens", "cached_input_tokens", "output_tokens", "cost")),
        ("missing_in_invoice", day(2), "anthropic/claude-3-5-haiku", "Research", -usd("1.6"),
         ("input_tokens", "output_tokens", "cost")),
        ("cost_mismatch", day(3), "anthropic/claude-3-5-haiku", "Research", usd("0.5"), ("cost",)),
        ("tokens_mismatch", day(4), "anthropic/claude-3-5-haiku", "Default", -usd("0.0004"),
         ("output_tokens",)),
    ]  # fmt: skip
    assert report.discrepancies[2].delta_percent == Decimal("10.55")
    assert report.invoice == Figures(2_710_000, 620_000, 1_081_000, None, usd("8.228"))
    assert report.delta.cost_nano == usd("0.6386")
    assert report.delta.requests is None  # the export counts no requests
    assert report.ledger_lines_outside_period == 1
    assert {m.invoice_model: m.ledger_model for m in report.models} == {
        "claude-3-5-haiku-20241022": "anthropic/claude-3-5-haiku",
        "claude-sonnet-4-20250514": "claude-sonnet-4",
    }


HAIKU = "anthropic/claude-3-5-haiku"
ANTHROPIC_COSTS_LEDGER = [
    line(1, "claude-sonnet-4", "Default", cost_nano=usd("0.7995")),
    line(1, "claude-sonnet-4", "Research", cost_nano=usd("0.446")),
    line(2, "anthropic/claude-3-5-haiku", "Research", cost_nano=usd("1.6")),
    line(3, "anthropic/claude-3-5-haiku", "Research", cost_nano=usd("4.74")),
    line(4, "anthropic/claude-3-5-haiku", "Default", cost_nano=usd("149")),
]


def test_anthropic_costs_with_a_display_name_mapped_explicitly() -> None:
    report = reconcile(
        parse_invoice(fixture("anthropic_costs.csv")),
        ANTHROPIC_COSTS_LEDGER,
        model_names={"Claude Haiku 3.5": "anthropic/claude-3-5-haiku"},
    )
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_ledger", day(2), "claude-sonnet-4", "Default", usd("1.794"), ("cost",)),
        ("missing_in_invoice", day(2), HAIKU, "Research", -usd("1.6"), ("cost",)),
        ("cost_mismatch", day(3), HAIKU, "Research", usd("0.5"), ("cost",)),
    ]
    assert [(m.invoice_model, m.rule) for m in report.models] == [
        ("Claude Haiku 3.5", "explicit"),
        ("Claude Sonnet 4", "display_name"),
    ]
    assert report.invoice.cost_nano == usd("158.2835")
    assert report.ledger.cost_nano == usd("156.5855")
    assert report.delta.cost_nano == usd("1.698")


def test_an_unmapped_model_is_reported_as_missing_in_the_ledger() -> None:
    report = reconcile(parse_invoice(fixture("anthropic_costs.csv")), ANTHROPIC_COSTS_LEDGER)
    assert report.unmapped_models == ("Claude Haiku 3.5",)
    unmapped = [d for d in report.discrepancies if not d.model_mapped]
    assert [(d.kind, d.day, d.model, d.delta_nano) for d in unmapped] == [
        ("missing_in_ledger", day(4), "Claude Haiku 3.5", usd("150")),
        ("missing_in_ledger", day(3), "Claude Haiku 3.5", usd("5.24")),
    ]
    assert report.counts["missing_in_invoice"] == 3  # the haiku days of the ledger


def test_generic_with_billed_costs_and_tokens() -> None:
    report = reconcile(parse_invoice(fixture("generic.csv")), OPENAI_LEDGER)
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_ledger", day(2), "gpt-4o", "proj_a", usd("1.375"),
         ("input_tokens", "cached_input_tokens", "output_tokens", "cost")),
        ("cost_mismatch", day(3), "gpt-4o-mini", "proj_b", usd("0.5"), ("cost",)),
        ("missing_in_invoice", day(2), "gpt-4o-mini", "proj_b", -usd("0.27"),
         ("input_tokens", "output_tokens", "cost")),
        ("tokens_mismatch", day(4), "gpt-4o-mini", "proj_a", -usd("0.00006"), ("output_tokens",)),
    ]  # fmt: skip
    assert report.cost_source == "billed"
    assert report.ledger_lines_outside_period == 1  # the generic export ends on 03-04


def test_matching_by_day_and_model_only() -> None:
    # Two accounts sum into one group: proj_a's and proj_b's 03-01 gpt-4o ($0.65 + $0.35
    # billed, $0.996 recorded) now differ by $0.004 in all, still within the tolerance.
    report = reconcile(parse_invoice(fixture("generic.csv")), OPENAI_LEDGER, accounts=False)
    assert report.by_account is False
    assert {d.account for d in report.discrepancies} == {None}
    assert [(d.kind, d.day, d.model) for d in report.discrepancies] == [
        ("missing_in_ledger", day(2), "gpt-4o"),
        ("cost_mismatch", day(3), "gpt-4o-mini"),
        ("missing_in_invoice", day(2), "gpt-4o-mini"),
        ("tokens_mismatch", day(4), "gpt-4o-mini"),
    ]


def test_an_invoice_without_accounts_is_matched_by_day_and_model() -> None:
    text = "date,model,cost_usd\n2025-03-01,gpt-4o,1.00\n"
    ledger = [
        line(1, "gpt-4o", "key_1", cost_nano=usd("0.60")),
        line(1, "gpt-4o", "key_2", cost_nano=usd("0.40")),
    ]
    report = reconcile(parse_invoice(text), ledger)
    assert report.by_account is False and report.discrepancies == ()
    assert report.matched == 1


def test_account_names_map_the_invoice_accounts_to_the_ledger() -> None:
    text = "date,model,account,cost_usd\n2025-03-01,gpt-4o,proj_a,1.00\n"
    ledger = [line(1, "gpt-4o", "team-a", cost_nano=usd("1.00"))]
    assert len(reconcile(parse_invoice(text), ledger).discrepancies) == 2
    assert (
        reconcile(parse_invoice(text), ledger, account_names={"proj_a": "team-a"}).discrepancies
        == ()
    )


@pytest.mark.parametrize(
    ("invoice_usd", "ledger_usd", "reported"),
    [
        ("1.00", "0.99", False),  # $0.01 is not more than $0.01
        ("1.00", "0.989999999", True),
        ("200.00", "198.00", False),  # $2 but exactly 1% of the larger side
        ("200.00", "197.99", True),
        ("0.005", "0", False),  # billed, unrecorded, but under a cent
        ("0", "0.02", True),
    ],
)
def test_a_cost_must_differ_by_more_than_both_tolerances(
    invoice_usd: str, ledger_usd: str, reported: bool
) -> None:
    text = f"date,model,cost_usd\n2025-03-01,gpt-4o,{invoice_usd}\n"
    report = reconcile(parse_invoice(text), [line(1, "gpt-4o", None, cost_nano=usd(ledger_usd))])
    assert bool(report.discrepancies) is reported


def test_tolerances_can_be_changed() -> None:
    text = "date,model,output_tokens,cost_usd\n2025-03-01,gpt-4o,1000,1.00\n"
    ledger = [line(1, "gpt-4o", None, (0, 0, 1005), cost_nano=usd("0.995"))]
    assert reconcile(parse_invoice(text), ledger).discrepancies == ()
    strict = Tolerance(cost_nano=0, cost_ratio=Decimal(0), tokens_ratio=Decimal("0.001"))
    (found,) = reconcile(parse_invoice(text), ledger, tolerance=strict).discrepancies
    assert found.differing == ("output_tokens", "cost") and found.kind == "cost_mismatch"
    with pytest.raises(ValueError, match="cost_ratio"):
        Tolerance(cost_ratio=0.01)  # type: ignore[arg-type]


def test_an_explicit_period_leaves_out_lines_outside_it() -> None:
    invoice = parse_invoice(fixture("generic.csv"))
    report = reconcile(invoice, OPENAI_LEDGER, first_day=day(3), last_day=day(3))
    assert [d.kind for d in report.discrepancies] == ["cost_mismatch"]
    assert report.invoice_lines_outside_period == 4
    assert report.ledger_lines_outside_period == 5


def test_an_empty_invoice_leaves_every_ledger_line_unbilled() -> None:
    invoice = parse_invoice("date,model,cost_usd\n")
    report = reconcile(invoice, OPENAI_LEDGER[:2])
    # No account in the invoice: the two accounts' 03-01 gpt-4o is one group.
    assert [summary(d) for d in report.discrepancies] == [
        ("missing_in_invoice", day(1), "gpt-4o", None, -usd("0.996"), ("cost",))
    ]
    assert (report.first_day, report.last_day) == (None, None)
    assert report.invoice.cost_nano == 0


def test_adjustments_make_the_ledger_agree_with_billed_costs() -> None:
    report = reconcile(parse_invoice(fixture("generic.csv")), OPENAI_LEDGER)
    proposals = propose_adjustments(report.discrepancies)
    # The token mismatch's cost agrees (within the tolerance): nothing to post for it.
    assert [(p.day, p.model, p.account, p.amount_nano, p.kind) for p in proposals] == [
        (day(2), "gpt-4o", "proj_a", usd("1.375"), "missing_in_ledger"),
        (day(3), "gpt-4o-mini", "proj_b", usd("0.5"), "cost_mismatch"),
        (day(2), "gpt-4o-mini", "proj_b", -usd("0.27"), "missing_in_invoice"),
    ]
    assert proposals[0].reason == (
        "invoice reconciliation: missing_in_ledger on 2025-03-02 gpt-4o proj_a,"
        " invoice − ledger = 1.375 USD (invoice rows 3)"
    )


def test_priced_costs_are_proposed_only_when_asked() -> None:
    report = reconcile(parse_invoice(fixture("openai_usage.csv")), OPENAI_LEDGER, price=price)
    # Only the unbilled ledger group has a cost that is not an estimate (the invoice's zero).
    assert [p.kind for p in propose_adjustments(report.discrepancies)] == ["missing_in_invoice"]
    assert [p.kind for p in propose_adjustments(report.discrepancies, priced=True)] == [
        "missing_in_ledger",
        "cost_mismatch",
        "missing_in_invoice",
    ]


def test_the_json_form_has_usd_strings_and_iso_days() -> None:
    report = reconcile(parse_invoice(fixture("openai_costs.csv")), OPENAI_LEDGER[:4])
    document = report.json()
    assert document["totals"]["invoice"]["cost_usd"] == "153.237771"
    assert document["counts"]["discrepancies"] == len(report.discrepancies)
    first = document["discrepancies"][0]
    assert first == {
        "kind": "missing_in_ledger",
        "day": "2025-03-04",
        "model": "gpt-4o-mini",
        "model_mapped": True,
        "account": "proj_a",
        "invoice": {
            "input_tokens": None,
            "cached_input_tokens": None,
            "output_tokens": None,
            "requests": None,
            "cost_usd": "150.00",
        },
        "ledger": None,
        "delta": {
            "input_tokens": None,
            "cached_input_tokens": None,
            "output_tokens": None,
            "requests": None,
            "cost_usd": "150.00",
        },
        "delta_usd": "150.00",
        "delta_percent": None,
        "differing": ["cost"],
        "cost_source": "billed",
        "invoice_models": ["gpt-4o-mini-2024-07-18"],
        "invoice_rows": [13, 14],
    }
    assert document["unmapped_models"] == ["assistants api | file search"]
    assert document["models"][0] == {
        "invoice_model": "assistants api | file search",
        "ledger_model": None,
        "rule": "unmapped",
        "candidates": [],
    }
    negative = next(d for d in document["discrepancies"] if d["kind"] == "missing_in_invoice")
    assert (negative["delta_usd"], negative["delta_percent"]) == ("-0.27", "-100.00")


def test_the_report_is_plain_data() -> None:
    report = reconcile(parse_invoice("date,model,cost_usd\n2025-03-01,m,1\n"), [])
    assert isinstance(report, Report)
    with pytest.raises(AttributeError):
        report.groups = 0  # type: ignore[misc]
    assert isinstance(LedgerLine(day(1), "m", None, 0, 0, 0, 0, 0), LedgerLine)
