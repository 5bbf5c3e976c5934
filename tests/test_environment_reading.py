"""Environment variables are read in one module, pipelines/settings.py (issue 16).

A variable read deep inside a step makes a run depend on the shell that started it and is
invisible in the Dagster UI; every other module receives the values as arguments or resource
fields. The check reads the code with `ast` (tests/ and bench/ are exempt: they set up
environments on purpose), and is shown to catch a planted read.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"pipelines/settings.py"}
EXEMPT_DIRS = {"tests", "bench", ".venv", "node_modules", "out", "data"}
READERS = {"environ", "getenv", "environb", "getenvb", "putenv", "unsetenv"}


def environment_reads(source: str) -> list[int]:
    """Line numbers where `source` touches the process environment (os.environ, os.getenv,
    `from os import environ` and the like)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in READERS
            or (
                isinstance(node, ast.ImportFrom)
                and node.module == "os"
                and any(alias.name in READERS for alias in node.names)
            )
        ):
            lines.append(node.lineno)
    return lines


def _project_files() -> list[Path]:
    return [
        p
        for p in ROOT.rglob("*.py")
        if not (set(p.relative_to(ROOT).parts[:-1]) & EXEMPT_DIRS)
        and not p.relative_to(ROOT).parts[0].startswith(".")
    ]


def test_only_pipelines_settings_reads_the_environment():
    found = {}
    for path in _project_files():
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        lines = environment_reads(path.read_text(encoding="utf-8"))
        if lines:
            found[rel] = lines
    assert not found, f"environment read outside pipelines/settings.py: {found}"


def test_the_check_sees_a_planted_read():
    assert environment_reads("import os\nx = os.environ.get('A')\n") == [2]
    assert environment_reads("import os\nx = os.getenv('A')\n") == [2]
    assert environment_reads("from os import environ\n") == [1]
    assert environment_reads("import os\nx = os.path.join('a')\n") == []
    assert environment_reads((ROOT / "pipelines" / "settings.py").read_text()) != []
