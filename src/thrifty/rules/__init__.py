"""Steering rules: the schema, its validation with clear errors, and evaluation (pure).

A :class:`RuleSet` is parsed once (from the config file's ``rules:`` list or the API's JSON)
and compiled; :meth:`RuleSet.evaluate` turns a :class:`RuleContext` into a :class:`Directive`
for model selection, with a trace of every rule. docs/rules.md is the reference.
"""

from thrifty.rules.context import RuleContext
from thrifty.rules.evaluate import EMPTY_RULES, NO_DIRECTIVE, Directive, RuleSet, RuleTrace
from thrifty.rules.schema import AUTO, Rule

__all__ = [
    "AUTO",
    "EMPTY_RULES",
    "NO_DIRECTIVE",
    "Directive",
    "Rule",
    "RuleContext",
    "RuleSet",
    "RuleTrace",
]
