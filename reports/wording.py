"""Numbers and verdicts in plain words.

Every sentence a council member reads is decided here, in Python, so the wording rules can be
tested; templates only place the strings. The verdict deliberately never says "significant":
it says how strong the evidence is and what would make it weaker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Evidence thresholds (documented in docs/report.md). Pre-trend p below this counts as a warning
# sign: a pre-trend test is weak, so we use a more cautious level than the usual 0.05.
PRE_TREND_WARNING_P = 0.10
# HonestDiD breakdown Mbar below this means a post-roll-out departure from parallel trends
# smaller than the largest one already seen before roll-out would overturn the conclusion.
BREAKDOWN_REASSURING = 1.0


@dataclass(frozen=True)
class OutcomeInfo:
    label: str  # heading, "Violent crime"
    noun: str  # counted thing, "violent incidents"
    kind: str  # "crime" | "survey" | "other"


OUTCOME_INFO = {
    "crime_total": OutcomeInfo("All recorded crime", "incidents", "crime"),
    "crime_violent": OutcomeInfo("Violent crime", "violent incidents", "crime"),
    "crime_property": OutcomeInfo("Property crime", "property incidents", "crime"),
    "trust_index": OutcomeInfo("Trust in police", "trust index", "survey"),
    "safety_index": OutcomeInfo("Feeling safe", "safety index", "survey"),
}


def outcome_info(key: str) -> OutcomeInfo:
    """Known outcomes get curated words; an unknown one still gets a readable label."""
    if key in OUTCOME_INFO:
        return OUTCOME_INFO[key]
    label = key.replace("_", " ").strip().capitalize() or "Outcome"
    return OutcomeInfo(label, label.lower(), "other")


def is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


# ---------------------------------------------------------------- numbers


def fmt_num(x, digits: int = 2) -> str:
    """Plain number with thousands separators; an em dash for missing values."""
    if not is_number(x):
        return "—"
    if float(x).is_integer() and abs(x) >= 1000:
        return f"{int(x):,}"
    return f"{x:,.{digits}f}"


def fmt_int(x) -> str:
    return f"{int(round(x)):,}" if is_number(x) else "—"


def fmt_p(p) -> str:
    if not is_number(p):
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def fmt_pct_abs(x, precise: bool = False) -> str:
    """Magnitude of a proportion as a percent: 0.062 -> "6%" (or "6.2%" when precise)."""
    v = abs(x) * 100
    if precise:
        return f"{v:.1f}%"
    return f"{v:.1f}%" if v < 1 else f"{v:.0f}%"


def fmt_signed(x, scale: str, precise: bool = True) -> str:
    """Signed value for tables: -0.062 -> "-6.2%" (proportional) or "+0.21" (points)."""
    if not is_number(x):
        return "—"
    if scale == "proportional":
        return f"{x * 100:+.1f}%"
    return f"{x:+.2f}"


def fmt_count(x) -> str:
    """Everyday magnitude of a count: whole numbers from 5, one decimal below."""
    v = abs(x)
    if v >= 5:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def count_effect(o: dict) -> float | None:
    """Change in incidents per unit-period: the model's sum(mu1 - mu0) per treated
    district-month (`effect_count_per_unit_period`, issue 12); older results without it fall
    back to estimate x pre-roll-out mean."""
    c = (o.get("effect_count_per_unit_period") or {}).get("estimate")
    if is_number(c):
        return float(c)
    base, est = o.get("baseline_mean"), o.get("estimate")
    if is_number(base) and base > 0 and is_number(est):
        return float(est) * float(base)
    return None


def direction_word(x, scale: str) -> str:
    if scale == "proportional":
        return "fewer" if x < 0 else "more"
    return "lower" if x < 0 else "higher"


def change_phrase(x, scale: str, precise: bool = False) -> str:
    """ "6% fewer" / "0.21 points higher"."""
    if scale == "proportional":
        return f"{fmt_pct_abs(x, precise)} {direction_word(x, scale)}"
    return f"{abs(x):.2f} points {direction_word(x, scale)}"


def range_phrase(lo, hi, scale: str) -> str:
    """Interval in words, smaller magnitude first when both bounds point the same way."""
    if lo < 0 < hi or lo == 0 or hi == 0:
        return f"{change_phrase(lo, scale)} to {change_phrase(hi, scale)}"
    near, far = (hi, lo) if hi < 0 else (lo, hi)
    if scale == "proportional":
        return f"{fmt_pct_abs(near)} to {fmt_pct_abs(far)} {direction_word(far, scale)}"
    return f"{abs(near):.2f} to {abs(far):.2f} points {direction_word(far, scale)}"


def interval_text(o: dict, scale: str) -> str:
    lo, hi = o.get("ci_low"), o.get("ci_high")
    if not (is_number(lo) and is_number(hi)):
        return "—"
    return f"{fmt_signed(lo, scale)} to {fmt_signed(hi, scale)}"


# ---------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    level: str  # "strong" | "some" | "none" | "unavailable"
    text: str
    concerns: list[str] = field(default_factory=list)


def few_district_p(o: dict):
    """The p-value that does not rely on many districts: wild bootstrap first, then RI."""
    for key in ("wild_bootstrap_p", "ri_p"):
        if is_number(o.get(key)):
            return o[key]
    return None


def verdict(o: dict, alpha: float = 0.05) -> Verdict:
    """The verdict the evaluation layer decided (`outcomes.<name>.verdict` in results.json).

    The report only words it: strength of evidence is decided once, in `evaluation.verdict`,
    so the UI, the tables and the report can never disagree. A document without one (written
    by an older version) reads as "unavailable" rather than guessing.
    """
    v = o.get("verdict")
    if not isinstance(v, dict) or v.get("level") not in ("strong", "some", "none", "unavailable"):
        return Verdict("unavailable", "No verdict was recorded for this outcome.")
    level, text = str(v["level"]), str(v.get("text") or "")
    lo, hi = o.get("ci_low"), o.get("ci_high")
    if level == "none" and is_number(lo) and is_number(hi):
        # the range is worded here (units and rounding are the report's business)
        scale = o.get("scale", "proportional")
        text = (
            f"{text.rstrip('.')}; the data are consistent with anything from "
            f"{range_phrase(lo, hi, scale)}."
        )
    return Verdict(level, text, list(v.get("concerns") or []))


def honestdid_scope(o: dict) -> str:
    """ " over the first N months after roll-out": what the HonestDiD breakdown is about (its
    target is the average event-study effect over those months, not the headline itself)."""
    w = o.get("honestdid_window") or {}
    first, last = w.get("first_month"), w.get("last_month")
    if not (is_number(first) and is_number(last)):
        return ""
    if first == 0:
        return f" over the first {int(last) + 1} months after roll-out"
    return f" over months {int(first)} to {int(last)} after roll-out"


def honestdid_not_applicable(o: dict) -> bool:
    """No breakdown because the sensitivity target's interval includes zero even at Mbar = 0."""
    if is_number(o.get("honestdid_breakdown")):
        return False
    for r in o.get("honestdid") or []:
        if r.get("m") == 0:
            lo, hi = r.get("ci_low"), r.get("ci_high")
            return not (is_number(lo) and is_number(hi)) or lo <= 0 <= hi
    return False


def join_words(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def per_phrase(o: dict) -> str:
    return f"per {o.get('units', 'month')} per {o.get('unit_label', 'district')}"


def effect_sentence(key: str, o: dict, survey_scale=(1, 5), with_range: bool = True) -> str:
    """The everyday-units sentence for the summary, without the verdict.

    `with_range=False` when the verdict sentence already states the range (no clear evidence).
    """
    info = outcome_info(key)
    est, lo, hi = o.get("estimate"), o.get("ci_low"), o.get("ci_high")
    scale = o.get("scale", "proportional")
    if not is_number(est):
        return f"{info.label}: {o.get('reason') or 'no estimate is available in this run.'}"
    rng = ""
    if with_range and is_number(lo) and is_number(hi):
        rng = f" (plausible range: {range_phrase(lo, hi, scale)})"
    # without a clear finding, say it is only the best estimate; the verdict gives the range
    lead = "" if with_range else "the best estimate is "
    if scale == "proportional":
        count = count_effect(o)
        pct = f"{fmt_pct_abs(est)} {direction_word(est, scale)}"
        if count is not None:
            return (
                f"{info.label}: {lead}about {fmt_count(count)} {direction_word(count, scale)} "
                f"{info.noun} {per_phrase(o)} after the program started, roughly {pct}{rng}."
            )
        return (
            f"{info.label}: {lead}roughly {pct} {info.noun} {per_phrase(o)} after the program "
            f"started{rng}."
        )
    lo_s, hi_s = survey_scale
    on_scale = f"on the {lo_s:g}–{hi_s:g} scale"
    if abs(est) < 0.005:
        moved = f"barely changed (by less than 0.01 points {on_scale})"
    else:
        moved = f"{'fell' if est < 0 else 'rose'} by about {abs(est):.2f} points {on_scale}"
    lead = "" if with_range else "the best estimate is that "
    return f"{info.label}: {lead}the {info.noun} {moved} after the program started{rng}."
