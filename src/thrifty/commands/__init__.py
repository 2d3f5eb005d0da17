"""Larger CLI commands, one module each (the parser lives in ``thrifty.cli``)."""
