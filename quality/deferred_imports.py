"""Import a library without the heavy modules it imports but the gate never uses.

Great Expectations imports `scipy.stats` (for its KL-divergence and KS-test expectations) and
Altair (for charts in its renderers) while it is itself imported: about 0.9 s of the 2.5 s
its import takes, paid by every `validate` and `run`, for code the gate never calls. An
`importlib.util.LazyLoader` does not help on Python 3.11: the import system reads the lazy
module's `__spec__` when the second importer finds it in `sys.modules`, and that read loads
the module.

`deferred(names)` puts a stand-in module in `sys.modules` for each name not yet imported,
with its real `__spec__`, `__path__` and `__file__`, for the duration of the block. Whoever
imports the name meanwhile receives the stand-in; its first read of any other attribute
imports the real module, copies the real module's namespace into the stand-in and answers
from it. So a library that does use the module behaves as before, only later. When the block
ends, stand-ins still in `sys.modules` are removed, so later imports get the real module.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator

_LOADING = threading.RLock()


class Deferred(types.ModuleType):
    """A stand-in for a module that is imported on first use (see the module docstring)."""

    def __init__(self, spec) -> None:
        super().__init__(spec.name)
        self.__spec__ = spec
        self.__loader__ = spec.loader
        self.__file__ = spec.origin
        if spec.submodule_search_locations is not None:  # a package: submodules import
            self.__path__ = list(spec.submodule_search_locations)

    def __getattr__(self, attr: str):
        name = self.__name__
        with _LOADING:
            real = sys.modules.get(name)
            if real is None or real is self:
                sys.modules.pop(name, None)
                real = importlib.import_module(name)
            self.__dict__.update(real.__dict__)
        return getattr(real, attr)


@contextlib.contextmanager
def deferred(names: tuple[str, ...]) -> Iterator[dict[str, Deferred]]:
    """Stand-ins for the named modules not yet imported, while the block runs."""
    stand_ins: dict[str, Deferred] = {}
    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:  # not installed: leave the library's own import to fail or cope
            continue
        stand_ins[name] = sys.modules[name] = Deferred(spec)
    try:
        yield stand_ins
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
