"""The direct token formula equals genai-prices' calculation on every model of the catalog."""

from __future__ import annotations

from datetime import UTC, datetime

from genai_prices import data_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from thrifty.pricing.formula import compile_formula, genai_cost

AT = datetime(2026, 11, 1, tzinfo=UTC)


def _catalog_prices() -> list[tuple[str, object]]:
    found = []
    for provider in data_snapshot.get_snapshot().providers:
        for model in provider.models:
            found.append((f"{provider.id}/{model.id}", model.get_prices(AT)))
    return found


PRICES = _catalog_prices()
usage = st.tuples(
    st.integers(0, 2_000_000), st.integers(0, 200_000), st.integers(0, 100), st.integers(0, 100)
).map(lambda t: (t[0], t[1], t[0] * t[2] // 200, t[0] * t[3] // 200))


def test_most_catalog_prices_take_the_fast_path() -> None:
    compiled = sum(compile_formula(price) is not None for _, price in PRICES)  # type: ignore[arg-type]
    assert compiled / len(PRICES) > 0.95


@settings(max_examples=60, deadline=None)
@given(usage)
def test_formula_equals_genai_prices_on_every_catalog_model(
    counts: tuple[int, int, int, int],
) -> None:
    input_tokens, output_tokens, cache_read, cache_write = counts
    for ref, price in PRICES:
        formula = compile_formula(price)  # type: ignore[arg-type]
        if formula is None:
            continue
        expected = genai_cost(price, input_tokens, output_tokens, cache_read, cache_write)  # type: ignore[arg-type]
        assert formula.cost(input_tokens, output_tokens, cache_read, cache_write) == expected, ref


def test_costs_of_equals_cost_of_to_the_last_digit() -> None:
    from genai_prices import data_snapshot

    from thrifty.pricing.catalog import TokenUsage, cost_of, costs_of

    checked = 0
    models = [m for provider in data_snapshot.get_snapshot().providers for m in provider.models]
    for model in models[::5]:  # every fifth model of the catalog
        prices = model.prices if isinstance(model.prices, list) else [model.prices]
        for entry in prices:
            price = getattr(entry, "prices", entry)
            for tokens in (0, 1_234, 300_000):
                got = costs_of(price, tokens, (0, 777, 65_536))
                want = [cost_of(price, TokenUsage(tokens, out)) for out in (0, 777, 65_536)]
                assert [str(g) for g in got] == [str(w) for w in want], model.id
                checked += 1
    assert checked > 1000
