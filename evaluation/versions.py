"""Code version and package versions recorded with every run."""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

PACKAGES = ("engagement-eval", "numpy", "pandas", "scipy", "statsmodels", "duckdb", "dagster")
HASHED = ("estimators", "evaluation", "warehouse")  # the panel SQL lives in warehouse


def code_version() -> str:
    """Package version plus a hash of the estimation code (changes whenever numbers can)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for pkg in HASHED:
        for path in sorted((root / pkg).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return f"{_version('engagement-eval') or '0'}+{digest.hexdigest()[:12]}"


def package_versions() -> dict[str, str]:
    return {p: v for p in PACKAGES if (v := _version(p))}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
