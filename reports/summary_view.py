"""The top of the report for a council member: since the last report, the summary, the glossary.

Above the methods section the report speaks in everyday units and plain words only (a test
greps the HTML for method names). The verdict the evaluation decided ends in a caution ("...,
but <why>"); when several outcomes share the same caution it is printed once under the list
instead of once per outcome, because five identical caveats read as "we don't know".
"""

from __future__ import annotations

from reports.wording import OUTCOME_INFO, fmt_pct_abs, is_number, join_words, outcome_info

LEVEL_WORDS = {
    "strong": "strong evidence",
    "some": "some evidence",
    "none": "no clear evidence",
    "unavailable": "no verdict",
}
_NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip

# Terms a reader meets in the methods, the technical sections and the appendix.
GLOSSARY = [
    ("Plausible range", "the 95% confidence interval: the effects that fit the data."),
    (
        "Comparison districts",
        "districts that had not (yet) started the program in the same months.",
    ),
    (
        "Parallel trends",
        "the assumption that, without the program, districts that started would have moved "
        "like the comparison districts. It cannot be proven; the pre-trend check and the "
        "sensitivity analysis test what they can of it.",
    ),
    (
        "Pre-trend check",
        "whether the two groups were already drifting apart before the program started.",
    ),
    (
        "HonestDiD (sensitivity)",
        "how far the comparison may depart from parallel trends after roll-out before the "
        "finding would no longer hold (Rambachan and Roth, 2023).",
    ),
    (
        "Event study",
        "the estimated difference month by month (or quarter by quarter) before and after a "
        "district started.",
    ),
    (
        "TWFE",
        "two-way fixed effects, the common simple regression. With staggered starts it can "
        "compare districts with others that had already started, so the report shows it only "
        "as a check.",
    ),
    (
        "Callaway-Sant'Anna, Poisson ETWFE (Wooldridge)",
        "the methods used here: they compare each group of districts that started at the same "
        "time only with districts that had not started.",
    ),
    (
        "p-value",
        "how often a difference at least this large would appear by chance if the program "
        "had no effect.",
    ),
    (
        "Smallest detectable effect",
        "the smallest change this study would find 80% of the time.",
    ),
]


def split_verdict(text: str) -> tuple[str, str]:
    """ "Some evidence of a decrease, but the years ... result." -> (head, caution)."""
    head, sep, caution = text.partition(", but ")
    if not sep:
        return text, ""
    return head.rstrip(".") + ".", caution.rstrip(".")


def share_cautions(items: list[dict]) -> tuple[list[dict], list[str]]:
    """Move a caution that two or more outcomes share out of their lines into one note.

    Items carry `verdict` (the full sentence); returns items whose `verdict` keeps only the
    verdict's head plus a marker, and the shared notes in order of first use.
    """
    counts: dict[str, int] = {}
    for s in items:
        caution = split_verdict(s.get("verdict") or "")[1]
        if caution:
            counts[caution] = counts.get(caution, 0) + 1
    shared = [c for c, n in counts.items() if n >= 2]
    out = []
    for s in items:
        head, caution = split_verdict(s.get("verdict") or "")
        if caution in shared:
            mark = "*" * (shared.index(caution) + 1)
            s = {**s, "verdict": f"{head.rstrip('.')} ({mark} see the caution below).",
                 "mark": mark}  # fmt: skip
        out.append(s)
    notes = [
        f"{'*' * (i + 1)} Caution: {c[0].upper()}{c[1:].replace('this result', 'these results')}."
        for i, c in enumerate(shared)
    ]
    return out, notes


def _month_words(key) -> str:
    try:
        y, m = str(key)[:7].split("-")
        return f"{_MONTHS[int(m) - 1]} {int(y)}"
    except (ValueError, IndexError):
        return str(key)


def _count_words(n: int, noun: str) -> str:
    word = _NUMBER_WORDS[n] if 0 <= n < len(_NUMBER_WORDS) else f"{n:,}"
    return f"{word} {noun}{'' if n == 1 else 's'}"


def _moved(key: str, before: dict, now: dict) -> str | None:
    """ "the estimated drop in violent crime moved from 7% to 8%"."""
    a, b = before.get("estimate"), now.get("estimate")
    label = outcome_info(key).label.lower()
    if not is_number(b):
        return f"{label} could not be estimated this time" if is_number(a) else None
    if not is_number(a):
        return f"{label} has an estimate for the first time"
    proportional = now.get("scale", "proportional") == "proportional"

    def size(x):
        return fmt_pct_abs(x) if proportional else f"{abs(x):.2f} points"

    def kind(x):
        if proportional:
            return "drop" if x < 0 else "rise"
        return "fall" if x < 0 else "rise"

    if kind(a) == kind(b):
        text = f"the estimated {kind(b)} in {label} moved from {size(a)} to {size(b)}"
        if size(a) == size(b):
            text = f"the estimated {kind(b)} in {label} stayed at about {size(b)}"
    else:
        text = f"{label} moved from an estimated {kind(a)} of {size(a)} to a {kind(b)} of {size(b)}"
    old, new = before.get("verdict_level"), (now.get("verdict") or {}).get("level")
    if old and new and old != new:
        text += f" (now {LEVEL_WORDS.get(new, new)}, was {LEVEL_WORDS.get(old, old)})"
    return text


def since_last_section(results: dict) -> dict | None:
    """Plain-words account of what changed since the previous run into this output, or None.

    Reads `previous_run` and `changes` (evaluation/history.py); the reasons are the recorded
    causes (new months, revised past data, changed settings), not an attribution.
    """
    prev = results.get("previous_run")
    if not isinstance(prev, dict):
        return None
    changes = results.get("changes") or {}
    outcomes = results.get("outcomes") or {}
    when = _month_words(prev.get("data_through")) if prev.get("data_through") else "previous"
    reasons = {r for c in changes.values() for r in c.get("reasons") or []}
    what = []
    added = max((int(c.get("new_periods") or 0) for c in changes.values()), default=0)
    if added:
        what.append(f"{_count_words(added, 'more month')} of data arrived")
    for kind, words in (("crime", "district-month"), ("survey", "district-quarter")):
        # crime outcomes share their district-months (all crime contains each kind): the
        # largest count is the number of cells revised; likewise for the survey indices
        n = max(
            (
                int(c.get("revised_rows") or 0)
                for k, c in changes.items()
                if outcome_info(k).kind == kind
            ),
            default=0,
        )
        if n:
            data = "crime" if kind == "crime" else "survey"
            what.append(f"{n:,} {words}{'' if n == 1 else 's'} of {data} data already "
                        f"analysed {'was' if n == 1 else 'were'} revised")  # fmt: skip
    if "removed_periods" in reasons:
        what.append("the data now end earlier than last time")
    if "config_changed" in reasons:
        what.append("the settings of the analysis changed")
    if "code_changed" in reasons:
        what.append("the analysis software was updated")
    lead = f"Since the {when} report"
    opening = f"{lead}, {join_words(what)}." if what else f"{lead}, no new or revised data arrived."
    order = list(OUTCOME_INFO)
    moves = [
        m
        for k in sorted(changes, key=lambda k: (order.index(k) if k in order else len(order), k))
        if (m := _moved(k, (prev.get("outcomes") or {}).get(k) or {}, outcomes.get(k) or {}))
    ]
    moves = [f"{m[0].upper()}{m[1:]}." for m in moves]
    return {"opening": opening, "moves": moves, "generated_at": str(prev.get("generated_at"))}
