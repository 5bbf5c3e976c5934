"""The report's "Who changed" section (issue 15, section 2): the program's effect on trust and
safety per resident group, as a dot chart with intervals, and one sentence per group column
about whether the gap between the least trusting group and the others narrowed.

Reads only `outcomes.<index>.by_group` and `group_gaps` of results.json. Those hold no cell
of the group panel (the evaluation never publishes one); a group value withheld there for
having fewer than `model.min_cell_size` responses is shown here as withheld, with no number.
"""

from __future__ import annotations

from reports import svg
from reports.charts import Chart, _cell, _table
from reports.wording import is_number, outcome_info


def _pts(v: float) -> str:
    text = f"{v:+.2f}"
    return text if any(c in text for c in "123456789") else text.replace("-", "+")


def _label(column: str) -> str:
    return column.replace("_", " ")


def dot_chart(chart_id: str, label: str, rows: list[dict]) -> Chart:
    """One row per (column, value): a dot at the estimate and a line over its interval."""
    shown = [r for r in rows if is_number(r.get("estimate"))]
    vals = [0.0] + [
        x for r in shown for x in (r["estimate"], r.get("ci_low"), r.get("ci_high")) if is_number(x)
    ]
    row_h = 26
    frame = svg.Frame(height=62 + 46 + row_h * max(len(rows), 1), left=230)
    xt = svg.nice_ticks(min(vals), max(vals), 6)
    xs = svg.Linear(xt[0], xt[-1], frame.x0, frame.x1)
    body = [
        svg.x_axis(frame, xs, [(t, _pts(t)) for t in xt], "change (points on the survey scale)"),
        svg.el(
            "line",
            x1=xs(0),
            x2=xs(0),
            y1=float(frame.y1),
            y2=float(frame.y0),
            stroke=svg.INK,
            stroke_width="1",
        ),
    ]
    for i, r in enumerate(rows):
        y = frame.y1 + row_h * (i + 0.5)
        body.append(svg.text(frame.x0 - 8, y + 4, r["name"], text_anchor="end"))
        if not is_number(r.get("estimate")):
            body.append(svg.text(frame.x0 + 6, y + 4, "not shown", class_="note"))
            continue
        if is_number(r.get("ci_low")) and is_number(r.get("ci_high")):
            body.append(
                svg.el(
                    "line",
                    x1=xs(r["ci_low"]),
                    x2=xs(r["ci_high"]),
                    y1=y,
                    y2=y,
                    stroke=svg.SKY,
                    stroke_width="4",
                )
            )
        body.append(
            svg.el("circle", cx=xs(r["estimate"]), cy=y, r="4.5", fill=svg.BLUE, stroke=svg.BLUE)
        )
    body.append(
        svg.legend([("estimate", svg.BLUE, ""), ("95% interval", svg.SKY, "band")], frame.x0, 20)
    )
    parts = [f"{label}: estimated change after the program started, by resident group."]
    parts += [
        f"{r['name']}: {_pts(r['estimate'])}"
        + (f" ({_pts(r['ci_low'])} to {_pts(r['ci_high'])})" if is_number(r.get("ci_low")) else "")
        + "."
        for r in shown
    ]
    desc = " ".join(parts)
    title = f"{label}: change by resident group"
    table = _table(
        f"{label}: estimated change by resident group (points on the survey scale)",
        ["Group", "Estimate, points", "Interval from", "Interval to"],
        [
            [r["name"], *(_cell(r.get(x) if is_number(r.get(x)) else None, _pts)
                          for x in ("estimate", "ci_low", "ci_high"))]
            for r in rows
        ],
    )  # fmt: skip
    root = svg.svg_root(chart_id, title, desc, frame, "".join(body))
    return Chart(chart_id, title, desc, root, "change (points on the survey scale)", table)


def gap_sentence(column: str, gaps: dict, label: str) -> str:
    """Did the program narrow the gap between the least trusting group and each other one?"""
    col = _label(column)
    if not gaps or gaps.get("reason") or not gaps.get("pairs"):
        return f"By {col}: the gap between groups could not be assessed ({gaps.get('reason') or 'no pairs'})."
    ref = gaps["reference"]
    out = []
    for value, p in gaps["pairs"].items():
        d = p["effect_difference"]
        before, after = p.get("gap_before"), p.get("gap_after")
        where = (
            f"the gap in {label} between {value} and {ref} residents went from "
            f"{_pts(before)} points before roll-out to {_pts(after)} after"
            if is_number(before) and is_number(after)
            else f"the gap in {label} between {value} and {ref} residents is not shown (too few responses)"
        )
        verdict = p.get("gap_change_due_to_program")
        if verdict == "narrowed":
            why = (
                f"the program raised it by {_pts(d['estimate'])} points more for {ref} residents "
                f"than for {value} residents (interval {_pts(d['ci_low'])} to "
                f"{_pts(d['ci_high'])}): it narrowed the gap"
            )
            if is_number(before) and is_number(after) and before > 0 > after:
                why = why.replace(  # the gap did not just shrink: it closed and turned round
                    "it narrowed the gap",
                    f"it closed the gap, and {ref} residents now score higher than {value} residents",
                )
        elif verdict == "widened":
            why = (
                f"the program raised it by {_pts(-d['estimate'])} points more for {value} "
                f"residents than for {ref} residents (interval {_pts(-d['ci_high'])} to "
                f"{_pts(-d['ci_low'])}): it widened the gap"
            )
        elif verdict == "no clear change":
            why = (
                f"the difference in the program's effect, {_pts(d['estimate'])} points (interval "
                f"{_pts(d['ci_low'])} to {_pts(d['ci_high'])}), is too uncertain to say the "
                "program changed the gap"
            )
        else:
            why = "the difference in the program's effect has no valid interval"
        out.append(f"{where}; {why}.")
    return f"By {col}: " + " ".join(s[0].upper() + s[1:] if i else s for i, s in enumerate(out))


def who_changed(results: dict, survey_keys: list[str]) -> dict:
    """View model of the section: per survey outcome with groups, a chart and sentences."""
    outcomes = results.get("outcomes") or {}
    blocks = []
    for k in survey_keys:
        o = outcomes.get(k) or {}
        by_group = o.get("by_group") or {}
        if not by_group:
            continue
        label = outcome_info(k).label
        rows, withheld = [], []
        for column, values in sorted(by_group.items()):
            for value, r in sorted(values.items()):
                name = f"{_label(column)}: {value}"
                rows.append(
                    {"name": name, **{x: r.get(x) for x in ("estimate", "ci_low", "ci_high")}}
                )
                if not is_number(r.get("estimate")):
                    withheld.append(f"{name} ({r.get('reason') or 'not estimated'})")
        gaps = o.get("group_gaps") or {}
        blocks.append(
            {
                "label": label,
                "chart": dot_chart(f"who-changed-{k}", label, rows),
                "sentences": [
                    gap_sentence(c, gaps.get(c) or {}, outcome_info(k).noun)
                    for c in sorted(by_group)
                ],
                "withheld": withheld,
            }
        )
    return {"any": bool(blocks), "blocks": blocks}


def _num(x):
    return float(x) if is_number(x) else None


def group_table(results: dict) -> tuple[list[str], list[list]]:
    """Spreadsheet sheet behind the dot chart: one row per outcome, group column and value
    (withheld values carry their reason and no numbers, as in results.json)."""
    cols = [
        "outcome",
        "group_column",
        "group_value",
        "estimate",
        "ci_low",
        "ci_high",
        "n_responses",
        "reason",
    ]
    rows = []
    for k, o in sorted((results.get("outcomes") or {}).items()):
        for column, values in sorted(((o or {}).get("by_group") or {}).items()):
            for value, r in sorted(values.items()):
                rows.append(
                    [k, column, value, *(_num(r.get(x)) for x in cols[3:7]), r.get("reason") or ""]
                )
    return cols, rows


def gap_table(results: dict) -> tuple[list[str], list[list]]:
    """Sheet behind the gap sentences: per outcome, group column and pair, the gap before and
    after roll-out and the difference of effects with its interval."""
    cols = [
        "outcome",
        "group_column",
        "reference_group",
        "group_value",
        "gap_before",
        "gap_after",
        "effect_difference",
        "ci_low",
        "ci_high",
        "gap_change_due_to_program",
    ]
    rows = []
    for k, o in sorted((results.get("outcomes") or {}).items()):
        for column, g in sorted(((o or {}).get("group_gaps") or {}).items()):
            for value, p in sorted((g.get("pairs") or {}).items()):
                d = p.get("effect_difference") or {}
                rows.append(
                    [
                        k,
                        column,
                        g.get("reference"),
                        value,
                        _num(p.get("gap_before")),
                        _num(p.get("gap_after")),
                        _num(d.get("estimate")),
                        _num(d.get("ci_low")),
                        _num(d.get("ci_high")),
                        p.get("gap_change_due_to_program") or "",
                    ]
                )
    return cols, rows
