"""The machinery of the one config schema: keys declared as dataclass fields, checked by walking.

A config section is a frozen dataclass (`engagement_eval.config`); each of its keys is a field
made with `key(default, check, doc)`, and a nested section is a field made with
`section(SectionClass, doc)`. That one declaration is the key's name, Python type, default,
validation and documentation: `build` walks a YAML mapping against it (unknown keys at any
depth stop with their dotted path and the nearest valid key), `defaults` gives the mapping of
defaults, and `describe` the rows of docs/configuration.md's key table.

A check takes the value and returns it normalised (tuples for lists, so configs stay
immutable) or raises `Invalid(expected)`, where `expected` completes "set <key> to ...".
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
from collections.abc import Callable, Iterator
from typing import Any

from engagement_eval.errors import UserError
from engagement_eval.names import identifier_problem, suggest_identifier

Check = Callable[[Any], Any]


class Invalid(ValueError):
    """A value a check refuses; the text completes "set <key> to ..."."""


def key(default: Any, check: Check, doc: str) -> Any:
    """A config key: its default (as written in YAML), its check and one line of documentation."""
    meta = {"check": check, "doc": doc, "yaml_default": default}
    normalised = check(copy.deepcopy(default)) if default is not None else None
    if isinstance(normalised, dict | list):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(normalised), metadata=meta)
    return dataclasses.field(default=normalised, metadata=meta)


def section(cls: type, doc: str) -> Any:
    """A nested section whose keys are the fields of `cls`."""
    return dataclasses.field(default_factory=cls, metadata={"section": cls, "doc": doc})


def internal(default: Any = None, factory: Callable | None = None) -> Any:
    """A field of the typed config that is not a YAML key (where the config came from, ...)."""
    if factory is not None:
        return dataclasses.field(
            default_factory=factory, metadata={"internal": True}, repr=False, compare=False
        )
    return dataclasses.field(default=default, metadata={"internal": True}, compare=False)


def yaml_fields(cls: type) -> Iterator[dataclasses.Field]:
    return (f for f in dataclasses.fields(cls) if not f.metadata.get("internal"))


def defaults(cls: type) -> dict[str, Any]:
    """The YAML mapping of every key's default (nested like the config file)."""
    return {
        f.name: defaults(f.metadata["section"])
        if "section" in f.metadata
        else copy.deepcopy(f.metadata["yaml_default"])
        for f in yaml_fields(cls)
    }


def describe(cls: type, prefix: str = "") -> list[tuple[str, Any, str]]:
    """(dotted key, default, doc) for every key, in declaration order, sections expanded."""
    rows = []
    for f in yaml_fields(cls):
        path = f"{prefix}{f.name}"
        if "section" in f.metadata:
            rows += describe(f.metadata["section"], path + ".")
        else:
            rows.append((path, f.metadata["yaml_default"], f.metadata["doc"]))
    return rows


def _yaml_value(value: Any) -> str:
    """A default as written in YAML flow style (for the docs table)."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{k}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def markdown_table(cls: type) -> str:
    """docs/configuration.md's key table, generated from the schema (a test compares them)."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for path, default, doc in describe(cls):
        rows.append(f"| `{path}` | `{_yaml_value(default)}` | {doc} |")
    return "\n".join(rows) + "\n"


def build(cls: type, value: Any, where: str, prefix: str = "", **internals: Any):
    """An instance of section `cls` from a YAML mapping (missing keys take their defaults).

    `where` names the config file in messages; `internals` fill the non-YAML fields.
    """
    source = where
    label = prefix.rstrip(".") or "the config"
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise UserError(
            f"{label} in {source} must be a mapping of keys, got {type(value).__name__}",
            f"see docs/configuration.md for the keys of {label}",
        )
    names = [f.name for f in yaml_fields(cls)]
    for name in value:
        if name not in names:
            raise unknown_key(f"{prefix}{name}", names, source)
    kwargs = dict(internals)
    for f in yaml_fields(cls):
        path = f"{prefix}{f.name}"
        if "section" in f.metadata:
            kwargs[f.name] = build(f.metadata["section"], value.get(f.name), source, path + ".")
            continue
        raw = value.get(f.name, f.metadata["yaml_default"])
        if raw is None and f.metadata["yaml_default"] is None:
            kwargs[f.name] = None
            continue
        try:
            kwargs[f.name] = f.metadata["check"](raw)
        except Invalid as exc:
            shown = repr(raw) if len(repr(raw)) <= 80 else repr(raw)[:77] + "..."
            raise UserError(
                f"{path} = {shown} in {source} is not valid", f"set {path} to {exc}"
            ) from None
    return cls(**kwargs)


def unknown_key(path: str, valid: list[str], source: str) -> UserError:
    """Unknown key: its dotted path, the nearest valid key (difflib) and the valid ones."""
    name = path.rsplit(".", 1)[-1]
    near = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.6)
    parent = path.rsplit(".", 1)[0] + "." if "." in path else ""
    hint = f"did you mean {parent}{near[0]}? " if near else ""
    where = parent.rstrip(".") or "the top level"
    return UserError(
        f"unknown config key {path} in {source}",
        f"{hint}{where} takes: {', '.join(valid)} (docs/configuration.md)",
    )


def deep_merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`, mappings merged key by key (a copy; neither is changed)."""
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# Checks: each returns the normalised value or raises Invalid("what to set instead").


def is_number(v: Any) -> bool:
    """A finite int or float (not a bool: YAML's `yes` is no number)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def number(lo: float | None = None, hi: float | None = None, integer: bool = False) -> Check:
    """A finite number (.nan and .inf would silently switch a check off) within [lo, hi]."""
    bounds = (
        f" between {lo} and {hi}"
        if lo is not None and hi is not None
        else (f" >= {lo}" if lo is not None else (f" <= {hi}" if hi is not None else ""))
    )
    expected = ("an integer" if integer else "a number") + bounds

    def check(v: Any) -> Any:
        if not is_number(v) or (integer and not float(v).is_integer()):
            raise Invalid(expected)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise Invalid(expected)
        return int(v) if integer else float(v)

    return check


def integer(lo: int | None = None, hi: int | None = None) -> Check:
    return number(lo, hi, integer=True)


def boolean(expected: str = "true or false") -> Check:
    def check(v: Any) -> bool:
        if not isinstance(v, bool):
            raise Invalid(expected)
        return v

    return check


def one_of(*choices: str) -> Check:
    def check(v: Any) -> str:
        if v not in choices:
            raise Invalid(f"one of: {', '.join(choices)}")
        return v

    return check


def text(expected: str = "a name in quotes") -> Check:
    def check(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise Invalid(expected)
        return v

    return check


def identifiers(non_empty: bool = True) -> Check:
    """A list of names that become columns and check names (engagement_eval.names)."""

    def check(v: Any) -> tuple[str, ...]:
        if not isinstance(v, list | tuple) or (non_empty and not v):
            raise Invalid("a list of names, e.g. [trust_police, feel_safe]")
        for name in v:
            problem = identifier_problem(name)
            if problem:
                raise Invalid(
                    f"names of letters, digits and underscores starting with a letter "
                    f"({problem}; e.g. {suggest_identifier(name)!r})"
                )
        return tuple(dict.fromkeys(v))

    return check


def pair(first_ok: Callable[[Any], bool], expected: str, ordered: bool = False) -> Check:
    """[a, b] where both pass `first_ok` (and a < b when `ordered`); returned as a tuple."""

    def check(v: Any) -> tuple:
        if (
            not isinstance(v, list | tuple)
            or len(v) != 2
            or not all(first_ok(x) for x in v)
            or (ordered and not v[0] < v[1])
        ):
            raise Invalid(expected)
        return (v[0], v[1])

    return check


def scale_range() -> Check:
    """An answer scale [low, high], finite, low < high; returned as floats."""
    ordered = pair(is_number, "[low, high] with low < high, e.g. [1, 5]", ordered=True)

    def check(v: Any) -> tuple[float, float]:
        low, high = ordered(v)
        return (float(low), float(high))

    return check


def numbers(lo: float = 0.0, expected: str = "a list of numbers") -> Check:
    def check(v: Any) -> tuple[float, ...]:
        if not isinstance(v, list | tuple) or not v or not all(is_number(x) for x in v):
            raise Invalid(expected)
        if any(x < lo for x in v):
            raise Invalid(expected)
        return tuple(sorted(float(x) for x in v))

    return check


def names_or_name(expected: str) -> Check:
    """A name or a list of names (deduplicated, order kept)."""

    def check(v: Any) -> tuple[str, ...]:
        items = [v] if isinstance(v, str) else v
        if not isinstance(items, list | tuple) or not items:
            raise Invalid(expected)
        if not all(isinstance(x, str) and x for x in items):
            raise Invalid(expected)
        return tuple(dict.fromkeys(items))

    return check


def optional(check: Check) -> Check:
    def wrapped(v: Any) -> Any:
        return None if v is None else check(v)

    return wrapped


def mapping(value_check: Check, expected: str) -> Check:
    """A mapping from names chosen by the city to values passing `value_check`."""

    def check(v: Any) -> dict:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise Invalid(expected)
        return {str(k): value_check(x) for k, x in v.items()}

    return check


def str_mapping(expected: str) -> Check:
    def check(v: Any) -> dict[str, str]:
        if not isinstance(v, dict) or not all(
            isinstance(x, str | int | float) and not isinstance(x, bool) for x in v.values()
        ):
            raise Invalid(expected)
        return {str(k): str(x) for k, x in v.items()}

    return check
