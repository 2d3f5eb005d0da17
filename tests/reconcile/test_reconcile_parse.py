"""parse_invoice: each layout's fixture, auto-detection, tolerant input, errors naming row and
column, exact amounts."""

from __future__ import annotations

import pytest
from reconcile_support import day, fixture, usd

from thrifty.errors import InvalidInput
from thrifty.reconcile import LAYOUTS, InvoiceLine, parse_invoice

FIXTURES = {
    "openai_usage.csv": ("openai", "usage"),
    "openai_costs.csv": ("openai", "costs"),
    "anthropic_usage.csv": ("anthropic", "usage"),
    "anthropic_costs.csv": ("anthropic", "costs"),
    "generic.csv": ("generic", "generic"),
}


@pytest.mark.parametrize(("name", "expected"), FIXTURES.items())
def test_the_layout_is_detected_from_the_header(name: str, expected: tuple[str, str]) -> None:
    invoice = parse_invoice(fixture(name))
    assert (invoice.layout, invoice.variant) == expected
    assert parse_invoice(fixture(name), expected[0]) == invoice


@pytest.mark.parametrize("name", FIXTURES)
def test_a_fixture_given_the_wrong_layout_is_refused_with_what_that_layout_needs(name: str) -> None:
    layout = FIXTURES[name][0]
    other = "generic" if layout != "generic" else "openai"
    with pytest.raises(InvalidInput) as caught:
        parse_invoice(fixture(name), other)
    assert caught.value.field == "header"
    assert "fits no known layout" in caught.value.message


def test_openai_usage_rows_become_lines_and_empty_buckets_extend_the_period() -> None:
    invoice = parse_invoice(fixture("openai_usage.csv"))
    assert invoice.lines[0] == InvoiceLine(
        row=1,
        day=day(1),
        model="gpt-4o-2024-08-06",
        account="proj_a",
        input_tokens=120_000,  # "120000.0" in the file
        cached_input_tokens=40_000,
        output_tokens=12_000,
        requests=30,
        cost_nano=None,
    )
    assert len(invoice.lines) == 6  # row 7 is 2025-03-05 without usage
    assert (invoice.first_day, invoice.last_day) == (day(1), day(5))
    assert invoice.account_column == "project_id"
    assert invoice.measures == {"input_tokens", "cached_input_tokens", "output_tokens", "requests"}


def test_openai_costs_take_the_model_from_the_line_item() -> None:
    invoice = parse_invoice(fixture("openai_costs.csv"))
    models = [line.model for line in invoice.lines]
    assert models[:4] == [
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06",
        "assistants api | file search",  # no ", kind" suffix: its own model
    ]
    assert invoice.lines[0].cost_nano == usd("0.4")  # "0.4000000000000000"
    assert {line.input_tokens for line in invoice.lines} == {None}
    assert invoice.measures == {"cost_nano"}
    assert len(invoice.lines) == 14 and invoice.last_day == day(5)


@pytest.mark.parametrize(
    ("item", "model"),
    [
        ("gpt-4o-2024-08-06, input", "gpt-4o-2024-08-06"),
        ("gpt-4o-2024-08-06, Cached Input", "gpt-4o-2024-08-06"),
        ("ft-gpt-4o-2024-08-06, output", "ft-gpt-4o-2024-08-06"),
        ("evals | gpt-4o-mini-2024-07-18, input", "evals | gpt-4o-mini-2024-07-18"),
        ("web search tool calls", "web search tool calls"),
    ],
)
def test_openai_line_items(item: str, model: str) -> None:
    text = f'start_time,amount_value,line_item\n1740787200,0.01,"{item}"\n'
    assert parse_invoice(text).lines[0].model == model


def test_an_ungrouped_openai_cost_row_is_refused() -> None:
    text = "start_time,amount_value,amount_currency,line_item\n1740787200,0.89,usd,\n"
    with pytest.raises(InvalidInput, match=r'row 1, column "line_item": empty \(export the'):
        parse_invoice(text)


def test_anthropic_usage_counts_cache_reads_and_writes_as_input() -> None:
    invoice = parse_invoice(fixture("anthropic_usage.csv"))
    first, _, _, fourth, *_ = invoice.lines
    # 100,000 uncached + 10,000 written (5 min) + 40,000 read
    assert (first.input_tokens, first.cached_input_tokens, first.output_tokens) == (
        150_000,
        40_000,
        15_000,
    )
    # 300,000 uncached + 20,000 written (1 h) + 80,000 read
    assert (fourth.input_tokens, fourth.cached_input_tokens) == (400_000, 80_000)
    assert first.requests is None and first.cost_nano is None
    assert (first.account, invoice.account_column) == ("Default", "workspace")


def test_anthropic_usage_in_the_admin_api_field_names() -> None:
    text = (
        "starting_at,ending_at,workspace_id,api_key_id,model,uncached_input_tokens,"
        "cache_read_input_tokens,cache_creation.ephemeral_5m_input_tokens,"
        "cache_creation.ephemeral_1h_input_tokens,output_tokens\n"
        "2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,wrkspc_1,apikey_1,claude-sonnet-4-20250514,"
        "100,20,3,4,50\n"
    )
    invoice = parse_invoice(text)
    assert (invoice.layout, invoice.variant) == ("anthropic", "usage")
    only = invoice.lines[0]
    assert (only.input_tokens, only.cached_input_tokens, only.output_tokens) == (127, 20, 50)
    assert only.account == "wrkspc_1"


def test_anthropic_usage_with_the_older_single_cache_write_column() -> None:
    text = (
        "usage_date_utc,model_version,usage_input_tokens_no_cache,usage_input_tokens_cache_write,"
        "usage_input_tokens_cache_read,usage_output_tokens\n2025-03-01,claude-3-haiku,10,5,2,7\n"
    )
    assert parse_invoice(text).lines[0].input_tokens == 17


def test_anthropic_costs_in_dollars_and_in_cents() -> None:
    invoice = parse_invoice(fixture("anthropic_costs.csv"))
    assert invoice.lines[0].model == "Claude Sonnet 4"
    assert invoice.lines[0].cost_nano == usd("0.45")
    api = (
        "starting_at,ending_at,workspace_id,description,model,cost_type,token_type,currency,amount\n"
        "2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,,Claude Sonnet 4 Usage - Input Tokens,"
        "claude-sonnet-4-20250514,tokens,uncached_input_tokens,USD,123.45\n"
        "2025-03-01T00:00:00Z,2025-03-02T00:00:00Z,,Web Search,,web_search,,USD,1\n"
    )
    lines = parse_invoice(api).lines
    assert lines[0].cost_nano == usd("1.2345")  # amounts are cents
    assert (lines[1].model, lines[1].cost_nano) == ("web_search", usd("0.01"))
    assert lines[0].account is None  # the default workspace has no id


def test_generic_reads_dates_in_every_form_and_ignores_unknown_columns() -> None:
    invoice = parse_invoice(fixture("generic.csv"))
    assert [line.day for line in invoice.lines] == [day(1), day(1), day(2), day(3), day(4)]
    assert invoice.lines[2].cost_nano == usd("1.375")
    assert invoice.lines[1].account == "proj_b"


def test_generic_needs_only_a_date_a_model_and_a_cost_or_tokens() -> None:
    assert parse_invoice("date,model,cost_usd\n2025-03-01,m,1.5\n").lines[0].cost_nano == usd("1.5")
    tokens_only = parse_invoice("DATE, Model ,output_tokens\n2025-03-01,m,7\n").lines[0]
    assert (tokens_only.output_tokens, tokens_only.cost_nano, tokens_only.account) == (
        7,
        None,
        None,
    )
    with pytest.raises(InvalidInput, match="fits no known layout"):
        parse_invoice("date,model,account\n2025-03-01,m,a\n")


def test_bom_crlf_blank_lines_and_tabs_are_accepted() -> None:
    plain = parse_invoice("date,model,cost_usd\n2025-03-01,m,0.10\n2025-03-02,m,0.20\n")
    windows = "\ufeffdate,model,cost_usd\r\n2025-03-01,m,0.10\r\n2025-03-02,m,0.20\r\n\r\n\r\n"
    assert parse_invoice(windows) == plain
    tabs = "date\tmodel\tcost_usd\n2025-03-01\tm\t0.10\n2025-03-02\tm\t0.20\n"
    assert parse_invoice(tabs) == plain


def test_row_numbers_count_blank_lines_so_they_stay_those_of_the_file() -> None:
    invoice = parse_invoice("date,model,cost_usd\n2025-03-01,m,1\n\n2025-03-02,m,2\n")
    assert [line.row for line in invoice.lines] == [1, 3]


GENERIC = "date,model,cost_usd\n"
COSTS = "start_time,amount_value,amount_currency,line_item\n"


@pytest.mark.parametrize(
    ("text", "message", "field"),
    [
        (GENERIC + "2025-03-01,m,1\n2025-03-02,m,x\n", 'row 2, column "cost_usd": not a number',
         "cost_usd"),
        (GENERIC + "2025-03-01,m,$1\n", 'row 1, column "cost_usd": not a number', "cost_usd"),
        (GENERIC + "2025-03-01,m,nan\n", 'row 1, column "cost_usd": not a number', "cost_usd"),
        (GENERIC + "2025-03-01,m,1e40\n", 'row 1, column "cost_usd": out of range', "cost_usd"),
        (GENERIC + "March 1,m,1\n", 'row 1, column "date": not a date or time', "date"),
        (GENERIC + ",m,1\n", 'row 1, column "date": empty', "date"),
        (GENERIC + "1740787200000,m,1\n", "Unix seconds expected, not milliseconds", "date"),
        (GENERIC + "2025-03-01,,1\n", 'row 1, column "model": empty', "model"),
        ("date,model,Output_Tokens\n2025-03-01,m,1.5\n", "not a whole number", "Output_Tokens"),
        ("date,model,output_tokens\n2025-03-01,m,-4\n", "must not be negative", "output_tokens"),
        (
            "date,model,input_tokens,cached_input_tokens\n2025-03-01,m,5,9\n",
            'row 1, column "cached_input_tokens": 9 cached input tokens exceed the 5',
            "cached_input_tokens",
        ),
        (GENERIC + "2025-03-01,m,1,2\n", "row 1: 4 cells, but the header has 3", "file"),
        ("date,model,cost_usd,model\n", 'column "model" appears twice', "header"),
        ("", "the file is empty", "header"),
        ("\n\n", "the file is empty", "header"),
        (GENERIC + '2025-03-01,"m,1\n', "row 1: not CSV", "file"),
        (COSTS + '1740787200,1,eur,"gpt-4o, input"\n', "only USD amounts", "amount_currency"),
    ],
)  # fmt: skip
def test_bad_input_names_the_row_and_column(text: str, message: str, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_invoice(text)
    assert message in caught.value.message
    assert caught.value.field == field


def test_an_unknown_header_lists_what_each_layout_needs() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_invoice("day,name,price\n2025-03-01,m,1\n")
    message = caught.value.message
    assert message.startswith("header (day, name, price) fits no known layout")
    for needs in (
        "the OpenAI usage export needs start_time (or start_time_iso), model, input_tokens",
        "the OpenAI cost export needs start_time (or start_time_iso), amount_value, line_item",
        "the Anthropic usage export needs usage_date_utc (or starting_at)",
        "the Anthropic cost export needs usage_date_utc (or starting_at), model, cost_usd",
        "the generic layout needs date, model, and cost_usd or input_tokens/output_tokens",
    ):
        assert needs in message


def test_an_unknown_layout_name_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_invoice("date,model,cost_usd\n", "azure")
    assert caught.value.field == "layout"
    assert LAYOUTS == ("openai", "anthropic", "generic")


def test_the_account_column_can_be_chosen() -> None:
    invoice = parse_invoice(fixture("openai_usage.csv"), account_column="API_KEY_ID")
    assert invoice.account_column == "api_key_id"
    assert [line.account for line in invoice.lines[:3]] == ["key_a1", "key_a2", "key_b1"]
    with pytest.raises(InvalidInput) as caught:
        parse_invoice(fixture("openai_usage.csv"), account_column="team")
    assert caught.value.field == "account_column"


def test_many_small_amounts_sum_exactly() -> None:
    rows = "".join("2025-03-01,m,0.1\n2025-03-01,m,0.000000001\n" for _ in range(10_000))
    invoice = parse_invoice("date,model,cost_usd\n" + rows)
    # 10,000 × $0.1 in float is 1000.0000000001588; in nano-USD it is exact.
    assert sum(line.cost_nano or 0 for line in invoice.lines) == usd("1000.00001")


def test_amounts_round_half_even_to_the_nano_once() -> None:
    amounts = ("0.0000000025", "0.0000000035", "-0.0000000025", "0.00383598000000000000000", "1E-7")
    text = GENERIC + "".join(f"2025-03-01,m,{amount}\n" for amount in amounts)
    assert [line.cost_nano for line in parse_invoice(text).lines] == [2, 4, -2, 3_835_980, 100]
