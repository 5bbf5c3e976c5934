"""View models for the sections around the results: program, data quality, methods, appendix."""

from __future__ import annotations

import json

from reports import charts
from reports.outcome_view import has_estimate
from reports.wording import fmt_int, fmt_num, is_number, outcome_info

CONTROL_GROUP_WORDS = {
    "notyet": "districts that had not started the program yet (including those that never did)",
    "nevertreated": "districts that never started the program",
    "never": "districts that never started the program",
}


def program_section(results: dict, window: tuple[int, int] | None) -> dict:
    rollout = results.get("rollout") or []
    meetings = results.get("meetings") or []
    out = {
        "rollout": None,
        "rollout_missing": "",
        "meetings": None,
        "meetings_missing": "",
        "source": "",
    }
    if rollout and window:
        out["rollout"] = charts.timeline_chart(rollout, *window)
    else:
        out["rollout_missing"] = "No roll-out dates were supplied, so the timeline cannot be drawn."
    if any(charts.month_index(m.get("month")) is not None for m in meetings):
        out["meetings"] = charts.meetings_chart(meetings)
    else:
        out["meetings_missing"] = "No meeting records were supplied for this city."
    src = str(results.get("rollout_source") or "")
    if "attendance" in src.lower():
        out["source"] = (
            "This city supplied no program start dates; each district's start was "
            "taken as the first month its meeting attendance per 1,000 residents "
            "passed the configured threshold."
        )
    elif src:
        out["source"] = f"Start dates come from {src}."
    return out


def rollout_span(results: dict) -> tuple[int, int] | None:
    starts = [charts.month_index(r.get("start")) for r in results.get("rollout") or []]
    starts = [s for s in starts if s is not None]
    return (min(starts), max(starts)) if starts else None


def study_window(results: dict) -> tuple[int, int] | None:
    """From `study_window`, else the span of trends, meetings and roll-out dates."""
    sw = results.get("study_window") or {}
    a, b = charts.month_index(sw.get("start")), charts.month_index(sw.get("end"))
    if a is not None and b is not None:
        return a, b
    months = [
        charts.month_index(p.get("period"))
        for pts in (results.get("trends") or {}).values()
        for p in pts or []
    ]
    months += [charts.month_index(m.get("month")) for m in results.get("meetings") or []]
    months += [charts.month_index(r.get("start")) for r in results.get("rollout") or []]
    months = [m for m in months if m is not None]
    return (min(months), max(months)) if months else None


def quality_section(results: dict) -> dict:
    q = results.get("quality") or {}
    sources = []
    for s in q.get("sources") or []:
        n_in, n_q = s.get("rows_in"), s.get("rows_quarantined")
        share = f"{n_q / n_in * 100:.2f}%" if is_number(n_in) and n_in and is_number(n_q) else "—"
        rules = ", ".join(
            f"{k}: {fmt_int(v)}" for k, v in sorted((s.get("quarantined_by_rule") or {}).items())
        )
        sources.append(
            {
                "source": str(s.get("source", "?")),
                "rows_in": fmt_int(n_in),
                "quarantined": fmt_int(n_q),
                "share": share,
                "rules": rules or "none",
            }
        )
    checks = q.get("checks") or []
    counts = {
        k: sum(1 for c in checks if c.get("status") == k) for k in ("passed", "warned", "failed")
    }
    flagged = [
        {
            "source": str(c.get("source", "")),
            "check": str(c.get("check", "")),
            "status": str(c.get("status", "")),
            "detail": str(c.get("detail", "")),
        }
        for c in checks
        if c.get("status") in ("warned", "failed")
    ]
    gaps = q.get("reporting_gaps") or []
    by_district: dict[str, list[str]] = {}
    for g in gaps:
        by_district.setdefault(str(g.get("district", "?")), []).append(str(g.get("month", "?")))
    gap_rows = [
        {"district": d, "months": ", ".join(sorted(ms)), "n": len(ms)}
        for d, ms in sorted(by_district.items())
    ]
    if not q:
        summary = "No data-quality summary was supplied with these results."
    else:
        summary = (
            f"{len(checks)} checks ran: {counts['passed']} passed, {counts['warned']} "
            f"warned and {counts['failed']} failed. "
            f"{len(gaps)} district-months had no reported incidents at all (reporting "
            "gaps)."
        )
    return {
        "present": bool(q),
        "summary": summary,
        "sources": sources,
        "flagged": flagged,
        "gaps": gap_rows,
    }


def methods_section(results: dict, config: dict) -> dict:
    model = config.get("model") or {}
    control = CONTROL_GROUP_WORDS.get(
        str(model.get("control_group", "notyet")).lower(), str(model.get("control_group", "notyet"))
    )
    antic = model.get("anticipation", 0)
    paras = [
        "Districts started the program at different times. For each district that started, we "
        f"compare how its numbers changed after it started with how numbers changed over the "
        f"same months in {control}. Averaging these comparisons gives the estimated effect.",
        "Crime is counted per district per month. The headline crime results come from a model "
        "for counts that reports the change as a percentage of the incidents expected without "
        "the program, taking district population into account.",
        "Trust and safety come from resident surveys, averaged per district per quarter with "
        "the survey weights. The uncertainty includes the fact that only a sample of residents "
        "answered.",
        "The 'plausible range' is a 95% confidence interval: a range of effects that fit the "
        "data. 'No clear evidence' means the range includes no change at all.",
    ]
    multiple = results.get("multiple_outcomes") or {}
    if multiple.get("adjusted_p"):
        primary = multiple.get("primary")
        paras.append(
            f"Several outcomes ({len(multiple['adjusted_p'])}) are tested at once, so one of "
            "them could look like a change by chance alone. Beside each p-value the tables "
            "give one adjusted for testing all of them together (the Romano-Wolf method, from "
            "the same reshuffled roll-outs for every outcome)"
            + (
                f"; the primary outcome, named before the results were seen, is "
                f"{outcome_info(primary).label.lower()}."
                if primary
                else "."
            )
        )
    if is_number(antic) and antic:
        paras.append(
            f"Changes in the {fmt_int(antic)} month(s) before a district started are "
            "treated as possible early effects, not as part of the comparison."
        )
    randomized = (config.get("rollout") or {}).get("randomized") is True
    limits = [
        (
            "The order in which districts started was decided by lot, so the randomization "
            "check is an exact test of no effect anywhere. The estimates and their ranges still "
            "assume that, without the program, districts that started would have followed the "
            "same trend as the comparison districts."
            if randomized
            else "This is not a randomized trial. The method assumes that, without the program, "
            "districts that started would have followed the same trend as the comparison "
            "districts. The 'How sure are we' section tests what it can of that assumption."
        ),
        "Anything else that changed in the same districts at the same time as the program (new "
        "staffing, other initiatives) would be counted as part of the program's effect.",
        "Recorded crime depends on residents reporting it. If the program makes people more "
        "willing to report, recorded crime can rise even when actual crime does not.",
        "Surveys reach only some residents; those who answer may differ from those who do not.",
        "With few districts, results are uncertain; a real but small effect can go undetected.",
    ]
    notes = [str(n) for n in results.get("notes") or []]
    return {"paragraphs": paras, "limitations": limits, "notes": notes}


def appendix_section(results: dict, outcome_keys: list[str], config: dict, alpha: float) -> dict:
    fields = [
        ("estimate", 4),
        ("ci_low", 4),
        ("ci_high", 4),
        ("p_value", 4),
        ("pre_trend_p", 4),
        ("pre_trend_power", 3),
        ("twfe_estimate", 4),
        ("mde", 4),
        ("honestdid_breakdown", 3),
        ("wild_bootstrap_p", 4),
        ("ri_p", 4),
        ("adjusted_p", 4),
        ("baseline_mean", 3),
        ("n_units", 0),
        ("n_treated", 0),
    ]
    outcomes = results.get("outcomes") or {}
    cols = [outcomes.get(k) or {} for k in outcome_keys]

    def cell(o, f, d):
        if not has_estimate(o):
            return "not estimated" if f == "estimate" else ""
        return fmt_num(o.get(f), d) if d else fmt_int(o.get(f))

    rows = [
        ("estimator", [str(o.get("estimator") or "—") for o in cols]),
        ("scale", [str(o.get("scale") or "—") for o in cols]),
    ]
    rows += [(f, [cell(o, f, d) for o in cols]) for f, d in fields]
    run = results.get("run") or {}
    assumptions = [
        "Parallel trends: without the program, treated districts' outcomes would have moved "
        "like those of the comparison districts (tested before roll-out; HonestDiD bounds how "
        "much a violation could matter).",
        "No anticipation beyond the configured window: the program does not change outcomes "
        "before it starts.",
        "No spill-overs: the program in one district does not change outcomes in another.",
        "Stable composition: districts and their boundaries do not change over the window.",
        f"Inference at the {100 * (1 - alpha):.0f}% level, clustered by district.",
    ]
    return {
        "columns": [outcome_info(k).label for k in outcome_keys],
        "rows": rows,
        "assumptions": assumptions,
        "versions": sorted((str(k), str(v)) for k, v in (run.get("versions") or {}).items()),
        "code_version": str(run.get("code_version") or "not recorded"),
        "timings": [
            (str(k), f"{v:.1f} s" if is_number(v) else "—")
            for k, v in (run.get("timings") or {}).items()
        ],
        "inputs": [
            {
                "file": str(i.get("file", "?")),
                "sha256": str(i.get("sha256", "—")),
                "rows": fmt_int(i.get("rows")),
            }
            for i in results.get("inputs") or []
        ],
        "config": json.dumps(config, indent=2, sort_keys=True, default=str) if config else "",
        "generated_at": str(results.get("generated_at") or "not recorded"),
    }
