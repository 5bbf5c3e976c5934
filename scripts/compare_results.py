"""Compare two runs' results.json, ignoring what legitimately differs between runs.

    python scripts/compare_results.py BEFORE/results.json AFTER/results.json

Ignored: `generated_at` (wall clock unless SOURCE_DATE_EPOCH is set), `code_version` (a hash of
the source tree, so it changes with any edit, by design) and string values that are file-system
paths of the run (they change with `--out` and the data folder). Prints each
differing key path with both values and exits 1 when there is any difference, 0 when none;
used to show a refactoring leaves the demo's results.json unchanged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

IGNORED_KEYS = {"generated_at", "code_version"}


def _is_path(value) -> bool:
    return isinstance(value, str) and value.startswith("/") and "/" in value[1:]


def differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key in IGNORED_KEYS:
                continue
            path = f"{where}.{key}" if where else key
            if key not in a or key not in b:
                out.append(f"{path}: only in {'after' if key in b else 'before'}")
            else:
                out += differences(a[key], b[key], path)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} items before, {len(b)} after"]
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{where}[{i}]")
        ]
    if _is_path(a) and _is_path(b):
        return []
    return [] if a == b else [f"{where}: {a!r} before, {b!r} after"]


def main(argv: list[str]) -> int:
    before, after = (json.loads(Path(p).read_text(encoding="utf-8")) for p in argv[1:3])
    diffs = differences(before, after)
    for line in diffs:
        print(line)
    print(f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
