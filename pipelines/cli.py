"""The `engagement-eval` command. Each subcommand lives in its own module under `commands/`
so the pieces (simulator, pipeline, gate, estimators) stay independent."""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
import threading
from typing import NoReturn

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


# Commands whose process may end without tearing down the interpreter (see `entry`): every
# DuckDB and SQLite connection they open is closed before they return, and the only file left
# open for writing is a logging handler's, which atexit's `logging.shutdown` flushes.
EXIT_WITHOUT_TEARDOWN = frozenset({"validate", "run"})


def entry() -> NoReturn:
    """The console script and `python -m pipelines.cli`: run `main`, then exit with its code.

    When `validate` or `run` returns, the process holds a few hundred thousand objects of Great
    Expectations, Dagster and pandas; the interpreter's teardown freed them one by one, 0.7 s
    after every `validate` and 1.6 s after the demo `run`, for memory the operating system
    reclaims anyway. For the commands in EXIT_WITHOUT_TEARDOWN
    the process does what a normal exit does that anyone can observe (waits for non-daemon
    threads, runs atexit handlers, flushes stdout and stderr) and then ends with `os._exit`.
    Freezing the collector instead was tried: DuckDB's bindings then report its module objects
    as leaked on stderr. Tests call `main`, so their process exits normally."""
    code = main()
    if sys.argv[1:2] and sys.argv[1] in EXIT_WITHOUT_TEARDOWN:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
