"""The report section "What residents said at meetings" (issue 15): one chart, plain sentences.

Reads only `results["meeting_feedback"]` (numbers and theme names; no form text is ever in
it). Descriptive wording throughout: feedback exists only where meetings are held, so there
is nothing to compare with, and the trust link is an association across districts.
"""

from __future__ import annotations

from reports import svg
from reports.charts import Chart, _cell, _table, band_paths, line_paths, start_line
from reports.wording import is_number, verdict

ITEM_LABELS = {
    "felt_heard": "felt heard",
    "concerns_addressed": "felt their concerns were addressed",
    "would_attend_again": "would attend again",
}
THEME_LABELS = {"police_conduct": "police conduct"}


def _item_label(item: str) -> str:
    return ITEM_LABELS.get(item, item.replace("_", " "))


def _theme_label(theme: str) -> str:
    return THEME_LABELS.get(theme, theme.replace("_", " "))


def rating_chart(chart_id: str, item: str, points: list[dict], scale: tuple[float, float]) -> Chart:
    """Mean rating by quarters since the program started, with its interval band."""
    pts = sorted(
        (p for p in points if is_number(p.get("event_time"))), key=lambda p: p["event_time"]
    )
    est = [(p["event_time"], p["mean"] if is_number(p.get("mean")) else None) for p in pts]
    band = [
        (p["event_time"], p["ci_low"], p["ci_high"])
        for p in pts
        if is_number(p.get("ci_low")) and is_number(p.get("ci_high"))
    ]
    frame = svg.Frame()
    lo_e, hi_e = pts[0]["event_time"], pts[-1]["event_time"]
    xs = svg.Linear(lo_e - 0.5, hi_e + 0.5, frame.x0, frame.x1)
    yt = svg.nice_ticks(scale[0], scale[1], 5)
    ys = svg.Linear(yt[0], yt[-1], frame.y0, frame.y1)
    step = max(1, -(-(hi_e - lo_e + 1) // 12))
    xt = [(float(t), f"{t:+d}" if t else "0") for t in range(lo_e, hi_e + 1) if t % step == 0]
    body = [
        svg.y_axis(frame, ys, yt, svg.tick_formatter(yt), "mean rating"),
        svg.x_axis(frame, xs, xt, "quarters since the program started"),
    ]
    body += band_paths(band, xs, ys, clamp=(yt[0], yt[-1]))
    body.append(start_line(frame, xs(-0.5)))
    body += line_paths(est, xs, ys)
    body.append(
        svg.legend([("mean rating", svg.BLUE, ""), ("interval", svg.SKY, "band")], frame.x0, 20)
    )
    shown = [(t, v) for t, v in est if v is not None]
    title = f"Residents who {_item_label(item)}: mean rating by quarter since the program started"
    desc = (
        f"Mean {item} rating on {scale[0]:g} to {scale[1]:g} in the districts with the program, "
        f"from {shown[0][1]:.2f} at quarter {shown[0][0]:+d} to {shown[-1][1]:.2f} at quarter "
        f"{shown[-1][0]:+d}."
        if shown
        else f"No quarter has enough {item} ratings to show."
    )
    bands = {t: (a, b) for t, a, b in band}
    ns = {p["event_time"]: p.get("n") for p in pts}

    def num(v):
        return f"{v:.2f}"

    table = _table(
        f"Residents who {_item_label(item)}: mean rating by quarter since the program started",
        ["Quarters since start", "Mean rating", "Interval from", "Interval to", "Ratings"],
        [
            [
                f"{t:+d}" if t else "0",
                _cell(v, num),
                _cell(bands.get(t, (None, None))[0], num),
                _cell(bands.get(t, (None, None))[1], num),
                _cell(ns.get(t), lambda n: f"{n:,}"),
            ]
            for t, v in est
        ],
    )
    root = svg.svg_root(chart_id, title, desc, frame, "".join(body))
    return Chart(chart_id, title, desc, root, "mean rating", table)


def ratings_sheet(results: dict) -> tuple[list[str], list[list]]:
    """council_data.xlsx "feedback ratings": every item's mean by quarter since roll-out, over
    all treated districts and per cohort, as published in results.json (cells below the
    minimum size carry their count only there, so they are blank here too)."""
    cols = ["item", "cohort", "event_time", "mean", "ci_low", "ci_high", "n", "districts"]
    fb = results.get("meeting_feedback") or {}
    rows = []
    for item, s in sorted((fb.get("items") or {}).items()):
        series = [("all", s.get("by_period") or [])]
        series += sorted((s.get("by_cohort") or {}).items())
        for cohort, points in series:
            for p in points:
                rows.append([item, cohort, *(p.get(c) for c in cols[2:])])
    return cols, rows


def themes_sheet(results: dict) -> tuple[list[str], list[list]]:
    """council_data.xlsx "feedback themes": each theme's share of topics, before and after
    roll-out, and the change with its interval."""
    cols = ["theme", "share", "before", "after", "change", "ci_low", "ci_high"]
    themes = (results.get("meeting_feedback") or {}).get("themes") or {}
    shares, shift = themes.get("shares") or {}, themes.get("shift") or {}
    rows = [
        [t, shares.get(t), *((shift.get(t) or {}).get(c) for c in cols[2:])]
        for t in sorted(set(shares) | set(shift))
    ]
    return cols, rows


def _association_sentence(a: dict) -> str:
    if not a or a.get("reason"):
        why = (a or {}).get("reason", "not computed")
        return f"Whether districts whose residents felt more heard also gained more trust: not shown ({why})."
    lo, hi, slope = a.get("ci_low"), a.get("ci_high"), a.get("slope")
    if not all(is_number(v) for v in (lo, hi, slope)):
        return "The link between feeling heard and trust gains could not be computed."
    clear = lo > 0 or hi < 0
    direction = "larger" if slope > 0 else "smaller"
    return (
        f"Across the {a.get('districts')} districts with the program, where residents rated "
        f"feeling heard one point higher, trust rose by {slope:+.2f} points more "
        f"(interval {lo:+.2f} to {hi:+.2f}). This is an association between districts, not an "
        "effect of the meetings"
        + (
            f"; districts whose residents felt more heard saw {direction} trust gains."
            if clear
            else "; the data cannot tell whether such a link exists."
        )
    )


def feedback_section(
    results: dict, scale: tuple[float, float] = (1.0, 5.0), order: list | tuple = ()
) -> dict:
    """View model: `present`, `reason` or (`chart`, `sentences`); items in `order` (the
    config's feedback.items) first, since results.json sorts its keys."""
    fb = results.get("meeting_feedback")
    if not isinstance(fb, dict) or fb.get("reason") or not fb.get("items"):
        reason = (fb or {}).get("reason") if isinstance(fb, dict) else None
        return {"present": False, "reason": reason or "No meeting feedback was delivered."}
    items = {i: fb["items"][i] for i in order if i in fb["items"]}
    items |= {i: s for i, s in fb["items"].items() if i not in items}
    sentences = []
    for item, s in items.items():
        if is_number(s.get("mean")):
            sentences.append(
                f"On average, residents rated \u201c{_item_label(item)}\u201d {s['mean']:.2f} "
                f"on a scale of {scale[0]:g} to {scale[1]:g} ({s.get('n', 0):,} ratings)."
            )
    themes = fb.get("themes") or {}
    shares = sorted((themes.get("shares") or {}).items(), key=lambda kv: -kv[1])
    if shares:
        top = ", ".join(f"{_theme_label(t)} ({100 * v:.0f}%)" for t, v in shares[:3])
        sentences.append(f"The topics residents raised most were {top}.")
    moved = [
        (t, s)
        for t, s in (themes.get("shift") or {}).items()
        if is_number(s.get("ci_low"))
        and is_number(s.get("ci_high"))
        and (s["ci_low"] > 0 or s["ci_high"] < 0)
    ]
    for t, s in sorted(moved, key=lambda kv: -abs(kv[1]["change"]))[:3]:
        sentences.append(
            f"After the program started, {_theme_label(t)} was raised "
            f"{'more' if s['change'] > 0 else 'less'} often ({100 * s['before']:.0f}% of topics "
            f"before, {100 * s['after']:.0f}% after)."
        )
    sentences.append(_association_sentence(fb.get("association_with_trust") or {}))
    for row in fb.get("concerns_vs_crime") or []:
        if row.get("crime_moved") is None or not is_number(row.get("share_change")):
            continue
        est = row.get("crime_estimate")
        # the crime change is worded from that outcome's verdict, so this sentence never
        # sounds surer than the summary at the top of the report
        level = verdict((results.get("outcomes") or {}).get(row.get("outcome")) or {}).level
        if level in ("strong", "some") and row["crime_moved"] and is_number(est):
            moved = f"{'fell' if est < 0 else 'rose'} by about {abs(100 * est):.0f}%"
            crime = (
                f"{moved} (strong evidence)" if level == "strong" else f"{moved} (some evidence)"
            )
        else:
            crime = "did not change clearly"
        sentences.append(
            f"Concerns about {_theme_label(row['theme'])} went "
            f"{'up' if row['share_change'] > 0 else 'down'} as a share of topics; recorded "
            f"{row.get('crime_label', row['theme'])} crime {crime}."
        )
    gaps = fb.get("reporting_gaps") or []
    if gaps:
        sentences.append(
            f"In {len(gaps)} district-quarters meetings were held but no feedback form came back."
        )
    chart_item = "felt_heard" if "felt_heard" in items else next(iter(items))
    points = items[chart_item].get("by_period") or []
    chart = rating_chart("feedback-chart", chart_item, points, scale) if points else None
    return {
        "present": True,
        "chart": chart,
        "sentences": sentences,
        "note": fb.get("descriptive", ""),
    }
