"""A small research agent that spends carefully, through Thrifty (see docs/client.md).

It checks its budget, then runs two operations with ``thrifty.client``: "research" pays for
two (pretend) web searches outside the gateway and asks a model to pick the facts that matter;
"summarise" lets Thrifty select a model and writes the summary. Model calls go through the
gateway with the OpenAI SDK. When a budget refuses, the agent degrades: a cheaper model
first, then it carries on without that step. At the end it prints what it spent.

    make run                              # prints "Demo API key for the gateway ...: thr_…"
    THRIFTY_API_KEY=thr_… .venv/bin/python examples/agent.py

The demo key is shown once, on the first start of an empty database. Without it, pass the
admin key ``thrifty serve`` printed (``--admin-key`` or ``THRIFTY_ADMIN_KEY``): the agent then
issues itself a key of the demo user and prints it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import openai

from thrifty.client import (
    Client,
    Operation,
    Refused,
    ServerUnavailable,
    ThriftyError,
    gateway_error,
)

AGENT = "scout"
DEMO_USER = "demo-user"  # the user `thrifty serve` provisions on the built-in demo config
SEARCH_COST = Decimal("0.001")  # what the pretend search API charges per query, in USD
MAX_TOKENS = 200


@dataclass
class Spend:
    """What the agent spent: model calls through the gateway, costs made elsewhere."""

    calls: list[Decimal] = field(default_factory=list)
    elsewhere: Decimal = Decimal(0)
    searches: int = 0

    @property
    def total(self) -> Decimal:
        return sum(self.calls, Decimal(0)) + self.elsewhere

    def __str__(self) -> str:
        return (
            f"spent {self.total} USD: {sum(self.calls, Decimal(0))} USD on {len(self.calls)} "
            f"model call(s) through the gateway, {self.elsewhere} USD on {self.searches} web "
            "search(es) outside it"
        )


def search(query: str) -> list[str]:
    """A stand-in for a paid web-search API (it costs ``SEARCH_COST`` a query)."""
    return [
        f"{query}: spending on LLM APIs doubled within a year at many companies.",
        f"{query}: most requests are simple enough for a small, cheap model.",
        f"{query}: teams that set per-team budgets report fewer surprise invoices.",
    ]


def ask(
    llm: openai.OpenAI, op: Operation, spend: Spend, prompt: str, model: str = "auto"
) -> str | None:
    """One model call of ``op`` through the gateway; on a budget refusal, once more with the
    cheapest model that can answer. None when that is refused too."""
    attempts = [(model, {}), ("auto", {"x-thrifty-quality": "low"})]
    for position, (name, extra) in enumerate(attempts):
        try:
            raw = llm.chat.completions.with_raw_response.create(
                model=name,
                messages=[{"role": "user", "content": prompt}],
                max_tokens=MAX_TOKENS,
                extra_headers={**op.headers, **extra},
            )
        except openai.APIStatusError as exc:
            error = gateway_error(exc)
            if not isinstance(error, Refused):
                raise
            print(f"  {op.name}: refused ({type(error).__name__}): {error.message}")
            if position + 1 < len(attempts):
                print(f"  {op.name}: degrading to the cheapest model that can answer")
            continue
        cost = Decimal(raw.headers.get("x-thrifty-cost-usd", "0"))
        spend.calls.append(cost)
        print(f"  {op.name}: {raw.headers.get('x-thrifty-model')} answered for {cost} USD")
        return raw.parse().choices[0].message.content or ""
    return None


def check_budget(thrifty: Client) -> bool:
    """Print the budgets governing this key; False when one of them blocks every request."""
    chain = thrifty.chain_status()
    for budget in chain.budgets:
        print(
            f"budget {budget.budget_id} ({budget.scope}): {budget.remaining} of "
            f"{budget.limit} USD left, {budget.percent_used}% used, {budget.status}"
        )
    if not chain.budgets:
        print("no budget governs this key")
    if chain.blocked:
        print("a budget blocks every request now: stopping before spending anything")
    return not chain.blocked


def research(thrifty: Client, llm: openai.OpenAI, topic: str, spend: Spend) -> str:
    """Notes on ``topic``: two paid searches (held up front), then a model picks the facts."""
    queries = [f"{topic}: overview", f"{topic}: recent numbers"]
    notes: list[str] = []
    try:
        with thrifty.operation("research", agent=AGENT, max_cost=SEARCH_COST * len(queries)) as op:
            for query in queries:
                notes += search(query)
                op.add_cost(SEARCH_COST, note=f"web search: {query}")
                spend.searches += 1
                print(
                    f"  research: web search {query!r} for {SEARCH_COST} USD, outside the gateway"
                )
            facts = ask(
                llm, op, spend, "Pick the three facts that matter most:\n" + "\n".join(notes)
            )
    except Refused as refusal:  # the hold of the searches did not fit: no search was made
        print(f"  research: skipped the searches ({type(refusal).__name__}): {refusal.message}")
        return f"(no research notes: {refusal.message})"
    spend.elsewhere += op.recorded  # what the operation's settlement posted
    return facts if facts is not None else "\n".join(notes)


def summarise(thrifty: Client, llm: openai.OpenAI, topic: str, notes: str, spend: Spend) -> str:
    prompt = f"Summarise for a busy reader, in three sentences, what we know about {topic}:\n"
    prompt += notes
    with thrifty.operation("summarise", agent=AGENT) as op:  # only gateway calls: holds 0
        try:
            choice = thrifty.select(
                [{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS, tags=op.tags
            )
            print(
                f"  summarise: Thrifty selects {choice.model} (worst case "
                f"{choice.worst_case_cost} USD): {choice.reason}"
            )
            model = choice.model
        except Refused as refusal:
            print(f"  summarise: no selection ({type(refusal).__name__}): {refusal.message}")
            model = "auto"
        summary = ask(llm, op, spend, prompt, model)
    return summary if summary is not None else "(no summary: every model was refused)"


def issue_key(base_url: str, admin_key: str) -> str:
    """Issue an API key of the demo user with the admin key (its secret is shown once)."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as admin:
        response = admin.post("/api/v1/keys", json={"user_id": DEMO_USER, "name": "example agent"})
    if response.status_code != 201:
        raise SystemExit(f"could not issue an API key: {response.status_code} {response.text}")
    secret = str(response.json()["secret"])
    print(f"issued an API key of {DEMO_USER} for this agent (keep it: THRIFTY_API_KEY={secret})")
    return secret


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get("THRIFTY_BASE_URL", "http://127.0.0.1:8787"),
        help="Thrifty's address (THRIFTY_BASE_URL; default: where `make run` listens)",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("THRIFTY_API_KEY"),
        help="the agent's API key (THRIFTY_API_KEY; `make run` prints a demo key)",
    )
    parser.add_argument(
        "--admin-key",
        default=os.environ.get("THRIFTY_ADMIN_KEY"),
        help="without an API key: the admin key, to issue one (THRIFTY_ADMIN_KEY)",
    )
    parser.add_argument("--topic", default="LLM costs", help="what to research")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    base_url = args.base_url.rstrip("/")
    try:
        api_key = args.api_key or (args.admin_key and issue_key(base_url, args.admin_key))
    except httpx.HTTPError as exc:
        print(f"cannot reach Thrifty at {base_url} ({exc}): is `make run` running?")
        return 1
    if not api_key:
        print("no API key: pass --api-key (or THRIFTY_API_KEY), or --admin-key to issue one")
        return 2
    spend = Spend()
    try:
        with (
            Client(base_url, api_key) as thrifty,
            openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key) as llm,
        ):
            if not check_budget(thrifty):
                print(spend)
                return 0
            print(f"researching {args.topic!r}")
            notes = research(thrifty, llm, args.topic, spend)
            summary = summarise(thrifty, llm, args.topic, notes, spend)
            print(f"\nsummary:\n{summary}\n")
            print(spend)
            remaining = thrifty.chain_status().remaining
            if remaining is not None:
                print(f"left in the tightest budget: {remaining} USD")
    except ServerUnavailable as exc:
        print(f"{exc.message}: is `make run` running?")
        return 1
    except ThriftyError as exc:
        print(f"thrifty: {type(exc).__name__}: {exc.message}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
