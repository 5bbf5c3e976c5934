"""The report's charts as inline, accessible SVG.

Each function returns a `Chart`: the SVG plus a title, a text alternative (<desc>) and a visible
caption sentence that says what the chart shows, so no reader depends on seeing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reports import svg
from reports.names import plain_name
from reports.wording import is_number

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Chart:
    """One chart. `unit` is what its value axis measures (the label printed on it); `table` is
    the data behind it, {"caption", "columns", "rows"}, from the very series that were plotted,
    printed in a `<details>` under the chart and exported to council_data.xlsx/CSV (issue 14)."""

    id: str
    title: str
    caption: str
    svg: str
    unit: str = ""
    table: dict | None = None


def _table(caption: str, columns: list[str], rows: list[list]) -> dict:
    return {"caption": caption, "columns": columns, "rows": rows}


def _cell(v, fmt) -> str:
    return fmt(v) if v is not None else "—"


def month_index(s) -> int | None:
    """ "2021-03" or "2021-03-15" -> months since year 0; None when unparseable."""
    try:
        y, m = str(s)[:7].split("-")
        return int(y) * 12 + int(m) - 1
    except (ValueError, TypeError):
        return None


def month_name(i: int) -> str:
    return f"{MONTHS[i % 12]} {i // 12}"


def year_ticks(lo: int, hi: int) -> list[tuple[float, str]]:
    """January ticks, thinned so labels never overlap."""
    years = list(range(lo // 12 + (lo % 12 > 0), hi // 12 + 1))
    step = max(1, math.ceil(len(years) / 10))
    return [(y * 12.0, str(y)) for y in years[::step]]


def timeline_chart(rollout: list[dict], start: int, end: int) -> Chart:
    """One row per district: a bar from its start month to the end of the study window."""
    rows = sorted(
        rollout,
        key=lambda r: (
            month_index(r.get("start")) is None,
            month_index(r.get("start")) or 0,
            str(r.get("name") or r.get("district")),
        ),
    )
    frame = svg.Frame(height=96 + 24 * len(rows), left=150, top=44, bottom=40)
    xs = svg.Linear(start, end + 1, frame.x0, frame.x1)
    body = [svg.x_axis(frame, xs, year_ticks(start, end + 1), "")]
    started = []
    for i, r in enumerate(rows):
        y = frame.y1 + 12 + 24 * i
        name = plain_name(r.get("name") or r.get("district") or "?")
        label = plain_name(r.get("name") or r.get("district") or "?", limit=20)
        body.append(svg.text(frame.x0 - 8, y + 5, label, class_="tick", text_anchor="end"))
        s = month_index(r.get("start"))
        if s is None:  # no track line: the row reads as "nothing happens here"
            body.append(svg.text(frame.x0 + 6, y + 5, "comparison: no program", class_="note"))
            continue
        body.append(
            svg.el(
                "line",
                x1=float(frame.x0),
                x2=float(frame.x1),
                y1=float(y),
                y2=float(y),
                stroke=svg.LIGHT,
                stroke_width="2",
            )
        )
        started.append((name, s))
        x = xs(max(s, start))
        body.append(
            svg.el(
                "rect",
                x=x,
                y=y - 8.0,
                width=max(frame.x1 - x, 2.0),
                height=16.0,
                fill=svg.BLUE,
                rx="3",
            )
        )
        body.append(svg.text(x + 6, y + 5, month_name(s), class_="bar-label"))
    body.append(svg.legend([("program running", svg.BLUE, "")], frame.x0, 20))
    never = len(rows) - len(started)
    if started:
        first, last = min(s for _, s in started), max(s for _, s in started)
        desc = (
            f"{len(started)} of {len(rows)} districts started the program between "
            f"{month_name(first)} and {month_name(last)}; {never} never started and serve "
            "as the comparison. " + "; ".join(f"{n}: {month_name(s)}" for n, s in started) + "."
        )
    else:
        desc = f"None of the {len(rows)} districts started the program in the study window."
    title = "When each district started the program"
    table = _table(
        "Start month per district",
        ["District", "Started"],
        [
            [
                plain_name(r.get("name") or r.get("district") or "?"),
                month_name(month_index(r.get("start")))
                if month_index(r.get("start")) is not None
                else "never (comparison)",
            ]
            for r in rows
        ],
    )
    return Chart(
        "chart-rollout",
        title,
        desc,
        svg.svg_root("chart-rollout", title, desc, frame, "".join(body)),
        "start month",
        table,
    )


def meetings_chart(meetings: list[dict]) -> Chart:
    """Monthly attendees as bars; meetings counted in the caption."""
    pts = [(month_index(m.get("month")), m) for m in meetings]
    pts = sorted((i, m) for i, m in pts if i is not None)
    frame = svg.Frame(height=280)
    lo, hi = pts[0][0], pts[-1][0]
    xs = svg.Linear(lo, hi + 1, frame.x0, frame.x1)
    att = [float(m.get("attendees") or 0) for _, m in pts]
    yt = svg.nice_ticks(0, max(max(att), 1.0), 4)
    ys = svg.Linear(0, yt[-1], frame.y0, frame.y1)
    bw = max((frame.x1 - frame.x0) / (hi - lo + 1) - 1, 1.0)
    body = [
        svg.y_axis(frame, ys, yt, lambda v: f"{v:,.0f}", "attendees per month"),
        svg.x_axis(frame, xs, year_ticks(lo, hi + 1), ""),
    ]
    for (i, _), a in zip(pts, att, strict=True):
        body.append(
            svg.el(
                "rect", x=xs(i), y=ys(a), width=bw, height=max(frame.y0 - ys(a), 0.0), fill=svg.SKY
            )
        )
    total_m = sum(int(m.get("meetings") or 0) for _, m in pts)
    peak_i, peak = max(zip((i for i, _ in pts), att, strict=True), key=lambda t: t[1])
    desc = (
        f"{total_m:,} meetings with {sum(att):,.0f} attendees in total from {month_name(lo)} "
        f"to {month_name(hi)}; the busiest month was {month_name(peak_i)} with "
        f"{peak:,.0f} attendees."
    )
    title = "Community meeting attendance per month"
    table = _table(
        "Meetings and attendees per month (all districts)",
        ["Month", "Meetings", "Attendees per month"],
        [
            [month_name(i), f"{int(m.get('meetings') or 0):,}", f"{a:,.0f}"]
            for (i, m), a in zip(pts, att, strict=True)
        ],
    )
    return Chart(
        "chart-meetings",
        title,
        desc,
        svg.svg_root("chart-meetings", title, desc, frame, "".join(body)),
        "attendees per month",
        table,
    )


def _segments(xy: list[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split a series at missing values so gaps (e.g. suppressed cells) stay visible."""
    segs, cur = [], []
    for x, y in xy:
        if y is None:
            if cur:
                segs.append(cur)
            cur = []
        else:
            cur.append((x, y))
    if cur:
        segs.append(cur)
    return segs


def band_paths(band, xs, ys, clamp: tuple[float, float] | None = None) -> list[str]:
    """The interval band as filled paths, one per run of consecutive event times (a gap in the
    band is left open rather than bridged); `clamp` keeps a band inside the axis."""

    def y(v: float) -> float:
        return ys(min(max(v, clamp[0]), clamp[1]) if clamp else v)

    out = []
    for seg in _segments([(t, 0) for t, *_ in band]):
        ts = {t for t, _ in seg}
        piece = [b for b in band if b[0] in ts]
        upper = [(xs(t), y(b)) for t, _, b in piece]
        lower = [(xs(t), y(a)) for t, a, _ in reversed(piece)]
        out.append(
            svg.el(
                "path",
                d=svg.path_d(upper + lower) + " Z",
                fill=svg.SKY,
                fill_opacity="0.35",
                stroke="none",
            )
        )
    return out


def start_line(frame, x: float) -> str:
    """The dashed line where the program starts (between event times -1 and 0)."""
    return svg.el(
        "line",
        x1=x,
        x2=x,
        y1=float(frame.y1),
        y2=float(frame.y0),
        stroke=svg.VERMILLION,
        stroke_width="2",
        stroke_dasharray="6 4",
    )


def line_paths(est, xs, ys) -> list[str]:
    """The estimate as a line, broken where a value is missing."""
    return [
        svg.el(
            "path",
            d=svg.path_d([(xs(x), ys(y)) for x, y in seg]),
            fill="none",
            stroke=svg.BLUE,
            stroke_width="2",
        )
        for seg in _segments(est)
    ]


def trend_chart(
    chart_id: str,
    label: str,
    points: list[dict],
    y_label: str,
    rollout_span: tuple[int, int] | None,
    y_fmt,
) -> Chart:
    """Treated vs comparison averages over time, with the roll-out period shaded."""
    pts = sorted(
        (month_index(p.get("period")), p)
        for p in points
        if month_index(p.get("period")) is not None
    )
    series = {
        "treated": [
            (i, p.get("treated_mean") if is_number(p.get("treated_mean")) else None) for i, p in pts
        ],
        "comparison": [
            (i, p.get("comparison_mean") if is_number(p.get("comparison_mean")) else None)
            for i, p in pts
        ],
    }
    vals = [v for s in series.values() for _, v in s if v is not None]
    frame = svg.Frame()
    lo, hi = pts[0][0], pts[-1][0]
    xs = svg.Linear(lo, max(hi, lo + 1), frame.x0, frame.x1)
    pad = (max(vals) - min(vals)) * 0.08 if vals else 1
    yt = svg.nice_ticks(min(vals) - pad, max(vals) + pad, 5) if vals else [0, 1]
    ys = svg.Linear(yt[0], yt[-1], frame.y0, frame.y1)
    body = []
    if rollout_span:
        a, b = max(rollout_span[0], lo), min(rollout_span[1], hi)
        if a <= b:
            body.append(
                svg.el(
                    "rect",
                    x=xs(a),
                    y=float(frame.y1),
                    width=max(xs(b) - xs(a), 2.0),
                    height=float(frame.y0 - frame.y1),
                    fill="#f0f0f0",
                )
            )
            body.append(svg.text(xs(a) + 4, frame.y1 + 14, "roll-out period", class_="note"))
    body += [
        svg.y_axis(frame, ys, yt, svg.tick_formatter(yt), y_label),
        svg.x_axis(frame, xs, year_ticks(lo, hi), ""),
    ]
    styles = {"treated": (svg.BLUE, ""), "comparison": (svg.ORANGE, "7 4")}
    for name, s in series.items():
        colour, dash = styles[name]
        for seg in _segments(s):
            xy = [(xs(x), ys(y)) for x, y in seg]
            if len(xy) == 1:
                body.append(svg.el("circle", cx=xy[0][0], cy=xy[0][1], r="3", fill=colour))
            else:
                body.append(
                    svg.el(
                        "path",
                        d=svg.path_d(xy),
                        fill="none",
                        stroke=colour,
                        stroke_width="2.5",
                        stroke_dasharray=dash or None,
                    )
                )
        if len(pts) <= 48:  # markers only where they do not turn into a smear
            for x, y in s:
                if y is not None:
                    body.append(svg.el("circle", cx=xs(x), cy=ys(y), r="3.5", fill=colour))
    body.append(
        svg.legend(
            [
                ("districts with the program", svg.BLUE, ""),
                ("comparison districts", svg.ORANGE, "7 4"),
            ],
            frame.x0,
            20,
        )
    )
    desc = _trend_desc(label, series, y_fmt, lo, hi)
    title = f"{label}: districts with the program vs comparison districts"
    table = _table(
        f"{label}: {y_label}",
        ["Period", f"With the program ({y_label})", f"Comparison ({y_label})"],
        [
            [month_name(i), _cell(t, y_fmt), _cell(c, y_fmt)]
            for (i, t), (_, c) in zip(series["treated"], series["comparison"], strict=True)
        ],
    )
    root = svg.svg_root(chart_id, title, desc, frame, "".join(body))
    return Chart(chart_id, title, desc, root, y_label, table)


def _trend_desc(label, series, y_fmt, lo, hi) -> str:
    parts = [f"{label} from {month_name(lo)} to {month_name(hi)}."]
    for name, words in (
        ("treated", "Districts with the program"),
        ("comparison", "Comparison districts"),
    ):
        vals = [(x, y) for x, y in series[name] if y is not None]
        if vals:
            parts.append(f"{words} went from {y_fmt(vals[0][1])} to {y_fmt(vals[-1][1])}.")
        else:
            parts.append(f"{words}: no values to show.")
    hidden = sum(1 for s in series.values() for _, y in s if y is None)
    if hidden:
        parts.append(f"{hidden} points are left out (too few responses or no data).")
    return " ".join(parts)


def event_study_chart(
    chart_id: str, label: str, points: list[dict], scale: str, units: str
) -> Chart:
    """Effect by time since roll-out with its confidence band and a marked start line."""
    pts = sorted(
        (p for p in points if is_number(p.get("event_time"))), key=lambda p: p["event_time"]
    )
    mult = 100.0 if scale == "proportional" else 1.0

    def fmt(v):
        text = f"{v:+.0f}%" if scale == "proportional" else f"{v:+.2f}"
        return text if any(c in text for c in "123456789") else text.replace("-", "+")

    est = [
        (p["event_time"], p["estimate"] * mult if is_number(p.get("estimate")) else None)
        for p in pts
    ]
    band = [
        (p["event_time"], p["ci_low"] * mult, p["ci_high"] * mult)
        for p in pts
        if is_number(p.get("ci_low")) and is_number(p.get("ci_high"))
    ]
    vals = [v for _, v in est if v is not None] + [v for _, a, b in band for v in (a, b)] + [0.0]
    frame = svg.Frame()
    e_lo, e_hi = pts[0]["event_time"], pts[-1]["event_time"]
    xs = svg.Linear(e_lo - 0.5, e_hi + 0.5, frame.x0, frame.x1)
    yt = svg.nice_ticks(min(vals), max(vals), 6)
    ys = svg.Linear(yt[0], yt[-1], frame.y0, frame.y1)
    step = max(1, math.ceil((e_hi - e_lo + 1) / 12))
    xt = [(float(t), f"{t:+d}" if t else "0") for t in range(e_lo, e_hi + 1) if (t % step == 0)]
    y_label = "change (%)" if scale == "proportional" else "change (points)"
    tick_fmt = svg.tick_formatter(yt, "%" if scale == "proportional" else "", signed=True)
    body = [
        svg.y_axis(frame, ys, yt, tick_fmt, y_label),
        svg.x_axis(frame, xs, xt, f"{units}s since the program started"),
    ]
    body += band_paths(band, xs, ys)
    body.append(
        svg.el(
            "line",
            x1=float(frame.x0),
            x2=float(frame.x1),
            y1=ys(0),
            y2=ys(0),
            stroke=svg.INK,
            stroke_width="1",
        )
    )
    xr = xs(-0.5)
    body.append(start_line(frame, xr))
    body.append(
        svg.text(xr + 5, frame.y1 + 14, "program starts", class_="note", fill=svg.VERMILLION)
    )
    body += line_paths(est, xs, ys)
    for t, v in est:
        if v is not None:  # hollow before roll-out, filled after: shape, not only colour
            body.append(
                svg.el(
                    "circle",
                    cx=xs(t),
                    cy=ys(v),
                    r="3.5",
                    stroke=svg.BLUE,
                    stroke_width="1.5",
                    fill=svg.BLUE if t >= 0 else "#ffffff",
                )
            )
    body.append(
        svg.legend([("estimate", svg.BLUE, ""), ("95% band", svg.SKY, "band")], frame.x0, 20)
    )
    desc = _event_desc(label, est, band, fmt, units)
    title = f"{label}: change by {units}s since the program started"
    bands = {t: (a, b) for t, a, b in band}

    def num(v):
        return f"{v:+.1f}%" if scale == "proportional" else f"{v:+.2f}"

    table = _table(
        f"{label}: {y_label} by {units}s since the program started",
        [f"{units.capitalize()}s since start", f"Estimate, {y_label}", "Band from", "Band to"],
        [
            [
                f"{t:+d}" if t else "0",
                _cell(v, num),
                _cell(bands.get(t, (None,))[0], num),
                _cell(bands.get(t, (None, None))[1], num),
            ]
            for t, v in est
        ],
    )
    root = svg.svg_root(chart_id, title, desc, frame, "".join(body))
    return Chart(chart_id, title, desc, root, y_label, table)


def _event_desc(label, est, band, fmt, units) -> str:
    pre = [v for t, v in est if t < 0 and v is not None]
    post = [v for t, v in est if t >= 0 and v is not None]
    parts = [
        f"{label}: estimated difference between districts with and without the program, "
        f"{units} by {units}, relative to the {units} before roll-out."
    ]
    if pre:
        parts.append(
            f"Before roll-out the estimates range from {fmt(min(pre))} to {fmt(max(pre))}."
        )
    if post:
        parts.append(f"After roll-out they range from {fmt(min(post))} to {fmt(max(post))}.")
    pre_band = [(a, b) for t, a, b in band if t < 0]
    outside = sum(1 for a, b in pre_band if a > 0 or b < 0)
    if pre_band:
        parts.append(
            f"Before roll-out, {outside} of {len(pre_band)} bands exclude zero"
            f"{' (a warning sign)' if outside else ', as expected'}."
        )
    return " ".join(parts)
