"""`quality.deferred_imports`: a deferred module is imported on first use, once, and behaves
as the real one; the gate's GX import really skips scipy.stats and Altair."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from quality.deferred_imports import Deferred, deferred


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package `heavy_pkg` whose import is recorded, with a submodule and a module that
    imports it at its top (as GX imports scipy.stats)."""
    root = tmp_path / "heavy_pkg"
    root.mkdir()
    (tmp_path / "imports.txt").write_text("")
    (root / "__init__.py").write_text(
        textwrap.dedent(f"""
            with open({str(tmp_path / "imports.txt")!r}, "a") as f:
                f.write("heavy_pkg\\n")
            VALUE = 42
            def double(x):
                return 2 * x
        """)
    )
    (root / "sub.py").write_text("NAME = 'sub'\n")
    (tmp_path / "user_mod.py").write_text(
        "import heavy_pkg\n\ndef use():\n    return heavy_pkg.VALUE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("heavy_pkg", "heavy_pkg.sub", "user_mod"):
        sys.modules.pop(name, None)


def _imports(tmp_path):
    return (tmp_path / "imports.txt").read_text().split()


def test_module_imported_only_on_first_use(package):
    with deferred(("heavy_pkg",)) as stand_ins:
        import user_mod

        assert isinstance(stand_ins["heavy_pkg"], Deferred)
        assert _imports(package) == []
    assert "heavy_pkg" not in sys.modules  # later importers get the real module
    assert user_mod.use() == 42
    assert _imports(package) == ["heavy_pkg"]
    assert user_mod.heavy_pkg.double(4) == 8
    import heavy_pkg

    assert heavy_pkg.VALUE == 42
    assert _imports(package) == ["heavy_pkg"]  # once


def test_first_use_inside_the_block_and_submodules(package):
    with deferred(("heavy_pkg",)):
        import heavy_pkg.sub

        assert heavy_pkg.sub.NAME == "sub"
        assert heavy_pkg.VALUE == 42
    assert _imports(package) == ["heavy_pkg"]


def test_already_imported_or_missing_modules_are_left_alone(package):
    import heavy_pkg

    with deferred(("heavy_pkg", "no_such_module_here")) as stand_ins:
        assert stand_ins == {}
        assert sys.modules["heavy_pkg"] is heavy_pkg
        assert "no_such_module_here" not in sys.modules


def test_gate_import_skips_scipy_stats_and_altair():
    """In a fresh interpreter, building the gate's GX context imports neither module (if a GX
    upgrade starts using them at import, this fails and the deferral should be revisited)."""
    code = (
        "import sys; from quality import runner; runner._batch_definition(); "
        "print(sorted(m for m in ('scipy.stats', 'altair') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
