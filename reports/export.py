"""The numbers behind the report, as a spreadsheet and CSV files (issue 14).

Evaluators are asked for the data behind every chart. `tables(results)` builds one table per
sheet from results.json, with raw numbers (not the report's rounded text) and every survey
average that the report hides for having too few responses hidden here too (the same
`suppress_small_cells`, applied first). `write_xlsx` and `write_csvs` write them beside
council_report.html.

New sections add a sheet with `register_sheet(name, builder)`: `builder(results)` returns
`(columns, rows)`; an empty `rows` still writes the header, so a reader sees the sheet exists.

Both writers are deterministic: the XLSX's document dates are `generated_at` and its zip
entries carry a fixed time stamp, so the same results give the same bytes.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from reports import feedback_view, groups_view
from reports.files import atomic_write
from reports.schema import DEFAULT_MIN_CELL_SIZE
from reports.suppression import suppress_small_cells
from reports.wording import count_effect, is_number, outcome_info

Table = tuple[list[str], list[list]]
SHEETS: dict[str, Callable[[dict], Table]] = {}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry; fixed for determinism


def register_sheet(name: str, builder: Callable[[dict], Table]) -> None:
    """Add (or replace) a sheet; names are Excel sheet names (31 characters at most)."""
    if not 0 < len(name) <= 31 or any(c in name for c in "[]:*?/\\"):
        raise ValueError(f"{name!r} is not a valid sheet name")
    SHEETS[name] = builder


def _num(x):
    return float(x) if is_number(x) else None


def _headline(results: dict) -> Table:
    cols = [
        "outcome", "label", "scale", "estimate", "ci_low", "ci_high", "p_value", "adjusted_p",
        "verdict_level", "verdict", "baseline_mean", "change_per_district_period",
        "period", "estimator", "data_through", "reason",
    ]  # fmt: skip
    through = (results.get("study_window") or {}).get("end")
    rows = []
    for name, o in sorted((results.get("outcomes") or {}).items()):
        v = o.get("verdict") or {}
        count = count_effect(o) if o.get("scale") == "proportional" else None
        rows.append(
            [
                name,
                outcome_info(name).label,
                o.get("scale"),
                *(_num(o.get(k)) for k in ("estimate", "ci_low", "ci_high", "p_value")),
                _num(o.get("adjusted_p")),
                v.get("level"),
                v.get("text"),
                _num(o.get("baseline_mean")),
                count,
                o.get("units"),
                o.get("estimator"),
                through,
                o.get("reason"),
            ]
        )
    return cols, rows


def _event_studies(results: dict) -> Table:
    cols = ["outcome", "scale", "event_time", "estimate", "ci_low", "ci_high"]
    rows = [
        [name, o.get("scale"), p.get("event_time"), *(_num(p.get(k)) for k in cols[3:])]
        for name, o in sorted((results.get("outcomes") or {}).items())
        for p in o.get("event_study") or []
    ]
    return cols, rows


def trend_unit(name: str, o: dict | None, survey_scale=(1, 5)) -> str:
    """The unit a trend is in, the same words the chart's axis uses."""
    info = outcome_info(name)
    o = o or {}
    if info.kind == "survey" or o.get("scale") == "points":
        return f"average {info.noun} ({survey_scale[0]:g}–{survey_scale[1]:g})"
    units = o.get("units") or "month"
    return f"average {info.noun} per {o.get('unit_label', 'district')} per {units}"


def _min_cell(results: dict) -> int:
    model = ((results.get("run") or {}).get("config") or {}).get("model") or {}
    value = model.get("min_cell_size", DEFAULT_MIN_CELL_SIZE)
    return int(value) if is_number(value) else DEFAULT_MIN_CELL_SIZE


def _survey_scale(results: dict) -> tuple[float, float]:
    survey = ((results.get("run") or {}).get("config") or {}).get("survey") or {}
    scale = survey.get("scale") or [1, 5]
    return (float(scale[0]), float(scale[1])) if len(scale) == 2 else (1.0, 5.0)


def _trends(results: dict) -> Table:
    cols = ["outcome", "unit", "period", "treated_mean", "comparison_mean", "treated_n",
            "comparison_n", "hidden_too_few_responses"]  # fmt: skip
    trends, _ = suppress_small_cells(results.get("trends"), _min_cell(results))
    outcomes = results.get("outcomes") or {}
    rows = []
    for name, points in sorted(trends.items()):
        unit = trend_unit(name, outcomes.get(name), _survey_scale(results))
        for p in points:
            hidden = [g for g in ("treated", "comparison") if p.get(f"{g}_suppressed")]
            rows.append(
                [
                    name,
                    unit,
                    p.get("period"),
                    _num(p.get("treated_mean")),
                    _num(p.get("comparison_mean")),
                    p.get("treated_n"),
                    p.get("comparison_n"),
                    ", ".join(hidden) or None,
                ]
            )
    return cols, rows


def _rollout(results: dict) -> Table:
    cols = ["district", "name", "start"]
    rows = [
        [r.get("district"), r.get("name"), r.get("start")] for r in results.get("rollout") or []
    ]
    return cols, rows


def _meetings(results: dict) -> Table:
    cols = ["month", "meetings", "attendees"]
    return cols, [[m.get(c) for c in cols] for m in results.get("meetings") or []]


def _quality(results: dict) -> Table:
    cols = ["kind", "source", "name", "status", "rows_in", "rows_quarantined", "detail"]
    q = results.get("quality") or {}
    rows = [
        ["rows", s.get("source"), None, None, s.get("rows_in"), s.get("rows_quarantined"),
         ", ".join(f"{k}: {v}" for k, v in sorted((s.get("quarantined_by_rule") or {}).items()))]
        for s in q.get("sources") or []
    ]  # fmt: skip
    rows += [
        ["check", c.get("source"), c.get("check"), c.get("status"), None, None, c.get("detail")]
        for c in q.get("checks") or []
    ]
    rows += [
        ["reporting gap", g.get("district"), g.get("month"), None, None, None, None]
        for g in q.get("reporting_gaps") or []
    ]
    return cols, rows


def _changes(results: dict) -> Table:
    cols = ["outcome", "previous_estimate", "estimate", "estimate_change", "reasons",
            "revised_rows", "previous_data_through"]  # fmt: skip
    prev = results.get("previous_run") or {}
    rows = []
    for name, c in sorted((results.get("changes") or {}).items()):
        before = (prev.get("outcomes") or {}).get(name) or {}
        now = (results.get("outcomes") or {}).get(name) or {}
        rows.append(
            [
                name,
                _num(before.get("estimate")),
                _num(now.get("estimate")),
                _num(c.get("estimate_change")),
                ", ".join(c.get("reasons") or []),
                c.get("revised_rows"),
                prev.get("data_through"),
            ]
        )
    return cols, rows


for _name, _builder in (
    ("headline", _headline),
    ("event studies", _event_studies),
    ("trends", _trends),
    ("roll-out", _rollout),
    ("meetings", _meetings),
    ("data quality", _quality),
    ("since last report", _changes),
    ("feedback ratings", feedback_view.ratings_sheet),  # What residents said at meetings
    ("feedback themes", feedback_view.themes_sheet),
    ("effects by group", groups_view.group_table),  # Who changed
    ("group gaps", groups_view.gap_table),
):
    register_sheet(_name, _builder)


def tables(results: dict) -> dict[str, Table]:
    return {name: builder(results) for name, builder in SHEETS.items()}


def _stamp(results: dict) -> datetime:
    try:
        text = str(results.get("generated_at") or "").replace("Z", "+00:00")
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        return datetime(2000, 1, 1)


def xlsx_bytes(results: dict) -> bytes:
    """The workbook, one sheet per registered table, header row bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, (cols, rows) in tables(results).items():
        ws = wb.create_sheet(name)
        ws.append(cols)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for r in rows:
            ws.append(r)
        for i, c in enumerate(cols, start=1):
            width = max([len(str(c))] + [len(str(r[i - 1])) for r in rows[:200]])
            ws.column_dimensions[ws.cell(1, i).column_letter].width = min(max(width, 8) + 2, 60)
    when = _stamp(results)
    wb.properties.created = wb.properties.modified = when
    wb.properties.creator = "engagement-eval"
    raw = io.BytesIO()
    wb.save(raw)
    # openpyxl stamps the zip entries and dcterms:modified with the wall clock on save:
    # rewrite both with fixed values
    out = io.BytesIO()
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, _ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\2", data
                )
            dst.writestr(fixed, data)
    return out.getvalue()


def csv_text(cols: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    w.writerows(["" if v is None else v for v in r] for r in rows)
    return buf.getvalue()


def csv_name(sheet: str) -> str:
    return "council_data_" + "".join(c if c.isalnum() else "_" for c in sheet) + ".csv"


def write_data(results: dict, folder: Path, stem: str = "council_data") -> list[Path]:
    """`<stem>.xlsx` plus one CSV per sheet in `folder`, each written atomically."""
    folder = Path(folder)
    xlsx = folder / f"{stem}.xlsx"
    atomic_write(xlsx, xlsx_bytes(results))
    written = [xlsx]
    for name, (cols, rows) in tables(results).items():
        path = folder / csv_name(name)
        atomic_write(path, csv_text(cols, rows).encode("utf-8"))
        written.append(path)
    return written
