"""`engagement-eval validate` (placeholder until its issue lands)."""

from __future__ import annotations


def add_arguments(parser) -> None:
    pass


def main(args) -> int:
    raise SystemExit("engagement-eval validate: not implemented yet")
