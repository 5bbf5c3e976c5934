"""View models for the results sections: summary, crime, trust & safety, how sure are we."""

from __future__ import annotations

from reports import charts
from reports.export import trend_unit
from reports.summary_view import LEVEL_WORDS
from reports.wording import (
    BREAKDOWN_REASSURING,
    PRE_TREND_WARNING_P,
    change_phrase,
    count_effect,
    effect_sentence,
    few_district_p,
    fmt_count,
    fmt_int,
    fmt_num,
    fmt_p,
    fmt_signed,
    honestdid_not_applicable,
    honestdid_scope,
    interval_text,
    is_number,
    outcome_info,
    per_phrase,
    verdict,
)


def has_estimate(o: dict | None) -> bool:
    return bool(o) and is_number(o.get("estimate"))


def missing_reason(key: str, o: dict | None) -> str:
    label = outcome_info(key).label
    if o and o.get("reason"):
        return f"{label} could not be estimated: {o['reason']}"
    return f"{label} was not estimated in this run (no results were supplied for it)."


def summary_item(key: str, o: dict | None, alpha: float, survey_scale) -> dict:
    info = outcome_info(key)
    if not has_estimate(o):
        return {
            "label": info.label,
            "sentence": missing_reason(key, o),
            "verdict": "",
            "level": "unavailable",
        }
    v = verdict(o, alpha)
    sentence = effect_sentence(key, o, survey_scale, with_range=v.level != "none")
    return {"label": info.label, "sentence": sentence, "verdict": v.text, "level": v.level}


def estimate_row(key: str, o: dict | None, alpha: float, primary: str | None = None) -> dict:
    info = outcome_info(key)
    label = f"{info.label} (primary outcome)" if key == primary else info.label
    if not has_estimate(o):
        return {"label": label, "missing": missing_reason(key, o)}
    scale = o.get("scale", "proportional")
    everyday = "—"
    base = o.get("baseline_mean")
    count = count_effect(o)
    if scale == "proportional" and is_number(base) and count is not None:
        everyday = (
            f"about {fmt_count(count)} "
            f"{'fewer' if count < 0 else 'more'} {per_phrase(o)} "
            f"(before: {fmt_num(base, 1)})"
        )
    elif scale == "points":
        everyday = f"{change_phrase(o['estimate'], scale)} on the index"
    return {
        "label": label,
        "missing": "",
        "estimate": fmt_signed(o["estimate"], scale),
        "interval": interval_text(o, scale),
        "everyday": everyday,
        "p_value": fmt_p(o.get("p_value")),
        # family-wise adjusted across the outcomes (randomization, Romano-Wolf)
        "adjusted_p": fmt_p(o.get("adjusted_p")) if is_number(o.get("adjusted_p")) else "—",
        "twfe": fmt_signed(o.get("twfe_estimate"), scale),
        "estimator": str(o.get("estimator") or "—"),
        "verdict": LEVEL_WORDS.get(verdict(o, alpha).level, "no verdict"),
        "secondary": [
            {
                "estimator": str(s.get("estimator") or "—"),
                "scale": str(s.get("scale") or ""),
                "estimate": fmt_num(s.get("estimate"), 3),
                "interval": f"{fmt_num(s.get('ci_low'), 3)} to {fmt_num(s.get('ci_high'), 3)}",
            }
            for s in o.get("secondary") or []
        ],
    }


def outcome_charts(
    key: str, o: dict | None, trend_points: list[dict] | None, rollout_span, survey_scale
) -> dict:
    """Trend and event-study charts for one outcome, or sentences saying why they are absent."""
    info = outcome_info(key)
    o = o or {}
    units = o.get("units") or ("quarter" if info.kind == "survey" else "month")
    y_label = trend_unit(key, o, survey_scale)  # the same words as the exported tables
    if info.kind == "survey":

        def y_fmt(v):
            return f"{v:.2f}"
    else:

        def y_fmt(v):
            return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"

    out = {
        "key": key,
        "label": info.label,
        "trend": None,
        "event": None,
        "trend_missing": "",
        "event_missing": "",
        "responses": [],
    }
    shown = [
        p
        for p in trend_points or []
        if is_number(p.get("treated_mean")) or is_number(p.get("comparison_mean"))
    ]
    if shown:
        out["trend"] = charts.trend_chart(
            f"chart-trend-{key}", info.label, trend_points, y_label, rollout_span, y_fmt
        )
    elif trend_points:
        out["trend_missing"] = (
            f"No {info.label.lower()} averages can be shown: every period had too few responses."
        )
    else:
        out["trend_missing"] = f"No trend data for {info.label.lower()} were supplied."
    es = [p for p in o.get("event_study") or [] if is_number(p.get("event_time"))]
    if es:
        out["event"] = charts.event_study_chart(
            f"chart-event-{key}", info.label, es, o.get("scale", "proportional"), units
        )
    else:
        out["event_missing"] = (
            f"No event-study estimates for {info.label.lower()} were "
            "supplied, so the change cannot be shown over time."
        )
    if info.kind == "survey":
        out["responses"] = [_response_row(p) for p in trend_points or []]
    return out


def _response_row(p: dict) -> dict:
    def cell(group):
        if p.get(f"{group}_suppressed"):
            return "hidden (too few responses)"
        return fmt_num(p.get(f"{group}_mean"), 2)

    return {
        "period": str(p.get("period", "")),
        "treated": cell("treated"),
        "treated_n": fmt_int(p.get("treated_n")),
        "comparison": cell("comparison"),
        "comparison_n": fmt_int(p.get("comparison_n")),
    }


# ------------------------------------------------------------------ how sure are we


def how_sure(key: str, o: dict | None, alpha: float) -> dict:
    info = outcome_info(key)
    if not has_estimate(o):
        return {
            "label": info.label,
            "points": [("", missing_reason(key, o))],
            "honestdid": [],
            "bacon": [],
        }
    scale = o.get("scale", "proportional")
    v = verdict(o, alpha)
    points = [
        _pre_trend_text(o),
        _honestdid_text(o, v.level),
        _few_district_text(o),
        _mde_text(o, scale, v.level),
        _twfe_text(o, scale),
    ]
    return {
        "label": info.label,
        "points": [tuple(p.split(": ", 1)) for p in points if p],  # "Label: text"
        "honestdid": [
            {
                "m": fmt_num(r.get("m"), 2),
                "interval": interval_text(r, scale),
                "includes_zero": _includes_zero(r),
            }
            for r in o.get("honestdid") or []
        ],
        "bacon": [
            {
                "type": str(b.get("type", "")),
                "weight": _pct(b.get("weight")),
                "estimate": fmt_signed(b.get("estimate"), scale),
            }
            for b in o.get("twfe_bacon") or []
        ],
    }


def _pct(x) -> str:
    return f"{x * 100:.0f}%" if is_number(x) else "—"


def _includes_zero(r: dict) -> str:
    lo, hi = r.get("ci_low"), r.get("ci_high")
    if not (is_number(lo) and is_number(hi)):
        return "—"
    return "yes" if lo <= 0 <= hi else "no"


def _pre_trend_text(o: dict) -> str:
    p, power = o.get("pre_trend_p"), o.get("pre_trend_power")
    if not is_number(p):
        return (
            "Pre-trend check: not available in this run, so we cannot say whether the "
            "districts were already moving apart before roll-out."
        )
    if p < PRE_TREND_WARNING_P:
        text = (
            f"Pre-trend check: before roll-out the two groups of districts were already "
            f"moving apart (test p = {fmt_p(p)}). This is a warning sign: part of the "
            "estimated change may be a continuation of that drift."
        )
    else:
        text = (
            f"Pre-trend check: before roll-out the two groups of districts moved roughly "
            f"in parallel (test p = {fmt_p(p)})."
        )
    if is_number(power):
        pct = f"{power * 100:.0f}%"
        if power < 0.8:
            text += (
                " But this check is not very sensitive: had the districts been drifting "
                "apart enough to bias the result by the minimum detectable effect, it "
                f"would have noticed only {pct} of the time."
            )
        else:
            text += (
                " The check is reasonably sensitive: it would have caught a drift large "
                f"enough to bias the result by the minimum detectable effect {pct} of "
                "the time."
            )
    return text


def _honestdid_text(o: dict, level: str) -> str:
    b = o.get("honestdid_breakdown")
    if level == "none":
        return (
            "Sensitivity: the plausible range already includes no change, so there is no "
            "finding for a violation of parallel trends to overturn."
        )
    scope = honestdid_scope(o)
    if honestdid_not_applicable(o):
        return (
            f"Sensitivity: the check is made for the average effect{scope}, and that average "
            "is not clearly different from zero even if trends were exactly parallel, so it "
            "cannot support the finding."
        )
    if not is_number(b):
        return (
            "Sensitivity: not available, so we cannot say how large a departure from "
            "parallel trends would overturn the finding."
        )
    w = o.get("honestdid_window") or {}
    months = w.get("bin_months")
    step = {3: "quarter", 6: "half-year", 12: "year"}.get(
        months, f"{int(months)}-month period" if is_number(months) else "period"
    )
    text = (
        f"Sensitivity{' (for the average effect' + scope + ')' if scope else ''}: the finding "
        "holds as long as any departure from parallel trends after roll-out is no more than "
        f"{b:.2g} times the largest departure seen before roll-out (both measured as the change "
        f"in the gap between the groups from one {step} to the next)."
    )
    if b < BREAKDOWN_REASSURING:
        text += (
            " That is a fragile finding: a smaller departure than already observed would undo it."
        )
    else:
        text += " A larger departure than any seen before roll-out would be needed to undo it."
    return text


def _few_district_text(o: dict) -> str:
    n, k = o.get("n_units"), o.get("n_treated")
    unit = o.get("unit_label", "district")
    parts = []
    if is_number(n):
        with_prog = f" ({fmt_int(k)} with the program)" if is_number(k) else ""
        parts.append(
            f"Few {unit}s: the study has {fmt_int(n)} {unit}s{with_prog}; with this "
            "few, standard methods can be over-confident."
        )
    tests = []
    if is_number(o.get("wild_bootstrap_p")):
        tests.append(f"a wild cluster bootstrap gives p = {fmt_p(o['wild_bootstrap_p'])}")
    ri = o.get("ri") or {}
    if is_number(o.get("ri_p")):
        kind = "an exact randomization test" if ri.get("exact") else "a placebo check"
        tests.append(
            f"{kind} (reshuffling which districts started when) gives p = {fmt_p(o['ri_p'])}"
        )
    if tests:
        usual = (
            f", compared with p = {fmt_p(o.get('p_value'))} from the usual method"
            if is_number(o.get("p_value"))
            else ""
        )
        parts.append("Checks built for few districts: " + "; ".join(tests) + usual + ".")
        if ri.get("interpretation"):
            parts.append(str(ri["interpretation"]))
    elif ri.get("interpretation"):
        parts.append(str(ri["interpretation"]))
    elif few_district_p(o) is None:
        parts.append(
            "No few-district check (wild bootstrap or randomization inference) was "
            "available in this run."
        )
    return " ".join(parts)


def _mde_text(o: dict, scale: str, level: str) -> str:
    mde = o.get("mde")
    if not is_number(mde):
        return "Smallest detectable effect: not available in this run."
    size = change_phrase(abs(mde), scale).rsplit(" ", 1)[0]  # magnitude only
    base = o.get("baseline_mean")
    count = ""
    if scale == "proportional" and is_number(base):
        count = f" (about {fmt_count(abs(mde) * base)} {per_phrase(o)})"
    text = (
        f"Smallest detectable effect: with this many districts and this much noise, the "
        f"smallest change the study could reliably detect (80% of the time) is about "
        f"{size}{count}."
    )
    if level == "none" and abs(o["estimate"]) < abs(mde):
        text += " A real effect smaller than this could easily have gone unnoticed."
    return text


def _twfe_text(o: dict, scale: str) -> str:
    twfe, est = o.get("twfe_estimate"), o["estimate"]
    if not is_number(twfe):
        return ""
    text = (
        f"Simpler method: a standard two-way fixed-effects regression gives "
        f"{fmt_signed(twfe, scale)}, against {fmt_signed(est, scale)} from the method "
        "used here."
    )
    lo, hi = o.get("ci_low"), o.get("ci_high")
    half = (hi - lo) / 2 if is_number(lo) and is_number(hi) else abs(est)
    differs = (twfe * est < 0) or abs(twfe - est) > 0.25 * max(half, 1e-12)
    if not differs:
        return text + " The two agree closely, so the choice of method does not drive the answer."
    # evaluation puts the weight on already-treated comparisons in the document
    w = (o.get("details") or {}).get("twfe_forbidden_weight")
    text += (
        " They differ because the simpler method also compares districts that started "
        "later with districts that had already started, which misleads when the effect "
        "changes over time."
    )
    if is_number(w) and w > 0:
        text += f" Such comparisons carry {w * 100:.0f}% of its weight (table below)."
    return text
