"""The `engagement-eval` command. Each subcommand lives in its own module under `commands/`
so the pieces (simulator, pipeline, gate, estimators) stay independent."""

from __future__ import annotations

import argparse
import importlib
import sys

from engagement_eval.errors import UserError

# name -> module under pipelines.commands; each module defines
# `add_arguments(parser)` and `main(args) -> int`.
SUBCOMMANDS = {
    "simulate": "Write a synthetic city with known program effects (truth.json).",
    "run": "Materialize the whole asset graph for a city folder and write results.",
    "validate": "Ingest a city folder and run only the quality gate.",
    "estimate": "Estimate a difference-in-differences model on a panel file.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engagement-eval", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in SUBCOMMANDS.items():
        module = importlib.import_module(f"pipelines.commands.{name}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._module.main(args) or 0)
    except UserError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
