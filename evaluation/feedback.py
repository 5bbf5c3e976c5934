"""What residents said at meetings (issue 15): descriptive, never an effect.

Feedback forms exist only where meetings happen, and meetings multiply after roll-out, so no
comparison group can exist: everything here describes. Four parts:

- item means: the response-weighted mean of every rating that passed the gate (`mean` =
  sum / n over the panel, so it equals the plain mean of the delivered ratings), and the mean
  by quarters since roll-out over treated districts, pooled and per cohort;
- themes: the share of forms per theme, and how the shares of treated districts moved from
  before to after roll-out;
- association with trust: across treated districts, did residents who felt more heard live
  where trust rose more? A slope across districts, labelled as an association;
- concerns vs crime: the themes with a crime category beside the crime estimate.

Intervals treat the district as the cluster: forms from one district (often one meeting)
are alike, so counting forms as independent would make every interval far too narrow. A
pooled mean is a ratio of district sums, its variance the linearised cluster variance with
the CR2 leverage correction, and the interval uses t with Satterthwaite-type degrees of
freedom (at most G-1: the few-district rule of the rest of the evaluation).
The association slope is ordinary least squares over G districts with a t(G-2) interval and
an exact (or Monte Carlo) permutation p-value, which holds without normal errors.
Cells resting on fewer than `min_cell_size` forms publish their count, not their mean.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

CRIME_OF_THEME = {"violence": "crime_violent", "property": "crime_property"}
CRIME_LABEL = {"violence": "violent", "property": "property"}
HEARD_ITEM = "felt_heard"
TRUST_INDEX = "trust_index"
MIN_DISTRICTS = 4  # a slope over fewer treated districts says nothing
EXACT_PERMUTATIONS_UP_TO = 8  # G! permutations (40,320 at 8); Monte Carlo beyond


def clustered_interval(
    estimate: float, contributions: np.ndarray, leverage: np.ndarray, alpha: float
) -> dict:
    """Interval from per-district linearised contributions (their sum of squares is the
    variance), with the CR2 (Bell-McCaffrey) leverage correction and t degrees of freedom
    (sum c)^2 / sum c^2 - 1, c_g = leverage_g^2 / (1 - leverage_g): G - 1 for equal districts,
    fewer when a few large districts dominate.

    Measured 95% coverage, unequal districts (20-200 forms, random district effects, 2,000
    replications): the plain G/(G-1) variance with t(G-1) gave 92.7-93.0% at G = 4, 6, 12;
    this gives 98.4%, 97.6%, 95.2% (conservative with very few districts, never short);
    tests/evaluation/test_feedback.py keeps it so for pooled means and theme shifts.
    """
    leverage = np.minimum(np.asarray(leverage, float), 1 - 1e-9)
    se = math.sqrt(float((np.asarray(contributions, float) ** 2 / (1 - leverage)).sum()))
    c = leverage**2 / (1 - leverage)
    df = max(1.0, float(c.sum() ** 2 / (c**2).sum()) - 1)
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return {"se": se, "ci_low": estimate - half, "ci_high": estimate + half}


def cluster_ratio(num: np.ndarray, den: np.ndarray, alpha: float) -> dict:
    """sum(num) / sum(den) with its district-clustered interval (`clustered_interval`;
    contribution_g = (num_g - ratio den_g) / sum den, leverage_g = den_g / sum den)."""
    num, den = np.asarray(num, float), np.asarray(den, float)
    total = den.sum()
    if total <= 0:
        return {"mean": None, "n": 0, "ci_low": None, "ci_high": None, "districts": 0}
    ratio = float(num.sum() / total)
    g = int((den > 0).sum())
    out = {"mean": ratio, "n": int(round(total)), "districts": g, "ci_low": None, "ci_high": None}
    if g >= 2:
        out.update(clustered_interval(ratio, (num - ratio * den) / total, den / total, alpha))
    return out


def _quarters_since(frame: pd.DataFrame) -> pd.Series:
    q, s = pd.to_datetime(frame["quarter"]), pd.to_datetime(frame["start_quarter"])
    return (q.dt.year - s.dt.year) * 4 + (q.dt.quarter - s.dt.quarter)


def _suppress(entry: dict, min_cell: int) -> dict:
    if entry["n"] < min_cell:
        entry = {**entry, "mean": None, "ci_low": None, "ci_high": None}
        entry.pop("se", None)
        entry["suppressed"] = f"fewer than {min_cell} ratings"
    return entry


def item_means(items: pd.DataFrame, alpha: float, min_cell: int) -> dict:
    """Per item: overall mean and n, and means by quarters since roll-out (treated only)."""
    out = {}
    treated = items[items["start_quarter"].notna()].copy()
    treated["event_time"] = _quarters_since(treated)
    treated["cohort"] = pd.to_datetime(treated["start_quarter"]).dt.strftime("%Y-%m")
    for item, rows in items.groupby("item", sort=False):
        n = int(rows["n"].sum())
        mean = float(rows["sum"].sum() / n) if n else None
        sub = treated[treated["item"] == item]
        by_period, by_cohort = [], {}
        # one grouped sum per layout, then a walk over its groups (a groupby per cell cost
        # about a quarter of the demo's model step)
        per_district = sub.groupby(["event_time", "district_id"])[["sum", "n"]].sum()
        for e, by_district in per_district.groupby(level="event_time"):
            entry = cluster_ratio(by_district["sum"], by_district["n"], alpha)
            by_period.append(_suppress({"event_time": int(e), **entry}, min_cell))
        per_district = sub.groupby(["cohort", "event_time", "district_id"])[["sum", "n"]].sum()
        for (cohort, e), by_district in per_district.groupby(level=["cohort", "event_time"]):
            entry = cluster_ratio(by_district["sum"], by_district["n"], alpha)
            by_cohort.setdefault(cohort, []).append(
                _suppress({"event_time": int(e), **entry}, min_cell)
            )
        out[str(item)] = {"mean": mean, "n": n, "by_period": by_period, "by_cohort": by_cohort}
    return out


def theme_shift(themes: pd.DataFrame, alpha: float) -> dict:
    """Theme shares overall, and before vs after roll-out in treated districts.

    The change is paired within districts (G = treated districts with forms before and
    after): contribution_g = (a_g,after - s_after b_g,after) / B_after - (a_g,before -
    s_before b_g,before) / B_before, leverage_g = the mean of b_g / B before and after, and
    `clustered_interval` on them.
    """
    total = themes.groupby("theme")["n"].sum()
    shares = (total / total.sum()).to_dict() if total.sum() else {}
    treated = themes[themes["start_quarter"].notna()]
    counts = (
        treated.groupby(["district_id", "treated", "theme"])["n"]
        .sum()
        .unstack(["treated", "theme"], fill_value=0)
    )
    shift: dict = {}
    if 0 in counts.columns.get_level_values(0) and 1 in counts.columns.get_level_values(0):
        before, after = counts[0], counts[1]
        b0, b1 = before.sum(axis=1).to_numpy(float), after.sum(axis=1).to_numpy(float)
        keep = (b0 > 0) & (b1 > 0)
        b0, b1 = b0[keep], b1[keep]
        g = int(keep.sum())
        for theme in sorted(total.index):
            a0 = (before[theme] if theme in before else pd.Series(0, before.index))[keep]
            a1 = (after[theme] if theme in after else pd.Series(0, after.index))[keep]
            a0, a1 = a0.to_numpy(float), a1.to_numpy(float)
            if g == 0:
                break
            s0, s1 = a0.sum() / b0.sum(), a1.sum() / b1.sum()
            entry = {"before": float(s0), "after": float(s1), "change": float(s1 - s0)}
            entry |= {"ci_low": None, "ci_high": None}
            if g >= 2:
                contrib = (a1 - s1 * b1) / b1.sum() - (a0 - s0 * b0) / b0.sum()
                leverage = (b0 / b0.sum() + b1 / b1.sum()) / 2
                entry.update(clustered_interval(entry["change"], contrib, leverage, alpha))
            shift[str(theme)] = entry
    else:
        g = 0
    return {
        "shares": {str(k): float(v) for k, v in shares.items()},
        "n_forms_with_topic": int(total.sum()),
        "shift": shift,
        "districts_compared": g,
    }


def trust_gains(dq: pd.DataFrame, index: str = TRUST_INDEX) -> pd.Series:
    """Per treated district: its mean trust after minus before roll-out, minus the same
    difference of the never-treated districts over the same quarters (raw change when the city
    has no never-treated district). Quarter means are unweighted across quarters."""
    rows = dq[(dq["index_name"] == index) & dq["mean"].notna()]
    never = rows[rows["cohort_period"] == 0]
    comparison = never.groupby("period")["mean"].mean()
    gains = {}
    for district, d in rows[rows["cohort_period"] > 0].groupby("district_id"):
        start = int(d["cohort_period"].iloc[0])
        pre, post = d[d["period"] < start], d[d["period"] >= start]
        if pre.empty or post.empty:
            continue
        gain = post["mean"].mean() - pre["mean"].mean()
        if not comparison.empty:
            c_pre = comparison[comparison.index < start]
            c_post = comparison[comparison.index >= start]
            if c_pre.empty or c_post.empty:
                continue
            gain -= c_post.mean() - c_pre.mean()
        gains[district] = float(gain)
    return pd.Series(gains, dtype=float)


def slope_with_interval(x: np.ndarray, y: np.ndarray, alpha: float, seed: int, draws: int) -> dict:
    """OLS slope of y on x, t(G-2) interval, correlation, permutation p-value (two-sided,
    on |slope|: exact over all orderings up to EXACT_PERMUTATIONS_UP_TO points)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    g = len(x)
    xc = x - x.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ (y - y.mean()) / sxx)
    resid = y - y.mean() - slope * xc
    se = math.sqrt(float(resid @ resid) / (g - 2) / sxx)
    half = float(stats.t.ppf(1 - alpha / 2, g - 2)) * se
    if g <= EXACT_PERMUTATIONS_UP_TO:
        perms = np.array(list(itertools.permutations(range(g))))
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(g) for _ in range(draws)])
    slopes = (y[perms] - y.mean()) @ xc / sxx
    extreme = int((np.abs(slopes) >= abs(slope) - 1e-12).sum())
    p = extreme / len(perms) if g <= EXACT_PERMUTATIONS_UP_TO else (extreme + 1) / (draws + 1)
    return {
        "slope": slope,
        "se": se,
        "ci_low": slope - half,
        "ci_high": slope + half,
        "correlation": float(np.corrcoef(x, y)[0, 1]),
        "p_permutation": float(p),
        "districts": g,
    }


def association_with_trust(
    items: pd.DataFrame, dq: pd.DataFrame | None, alpha: float, seed: int, draws: int = 9999
) -> dict:
    """Across treated districts: trust gain on the mean felt_heard rating after roll-out.

    On simulated cities with a stated slope (16 districts, 4 years) the 95% interval held the
    truth in 27 of 30 (tests/evaluation/test_feedback_truth.py): the t(G-2) interval assumes
    equal noise, and each district's trust gain is estimated with its own precision.
    """
    label = (
        "association across treated districts between how heard residents felt at meetings "
        "and the district's trust gain; not an effect of the meetings"
    )
    if dq is None or dq.empty or not (dq["index_name"] == TRUST_INDEX).any():
        return {"label": label, "reason": "no trust survey data"}
    heard = items[(items["item"] == HEARD_ITEM) & (items["treated"] == 1)]
    if heard.empty:
        return {"label": label, "reason": f"no {HEARD_ITEM} ratings after roll-out"}
    sums = heard.groupby("district_id")[["sum", "n"]].sum()
    x = sums["sum"] / sums["n"]
    y = trust_gains(dq)
    both = x.index.intersection(y.index)
    if len(both) < MIN_DISTRICTS:
        return {
            "label": label,
            "districts": int(len(both)),
            "reason": f"fewer than {MIN_DISTRICTS} treated districts have both feedback and "
            "trust surveys before and after roll-out",
        }
    if np.ptp(x.loc[both].to_numpy()) == 0:
        return {"label": label, "districts": int(len(both)), "reason": "no spread in ratings"}
    out = slope_with_interval(x.loc[both], y.loc[both], alpha, seed, draws)
    return {
        "label": label,
        "x": f"mean {HEARD_ITEM} rating after roll-out",
        "y": f"{TRUST_INDEX} change after roll-out, net of never-treated districts (points)",
        "unit": f"{TRUST_INDEX} points per {HEARD_ITEM} point",
        **out,
    }


def concerns_vs_crime(shift: dict, outcomes: dict) -> list[dict]:
    """Themes that have a crime category, beside that category's estimated change."""
    rows = []
    for theme, outcome in CRIME_OF_THEME.items():
        o = outcomes.get(outcome) or {}
        est, lo, hi = o.get("estimate"), o.get("ci_low"), o.get("ci_high")
        moved = None if lo is None or hi is None else bool(lo > 0 or hi < 0)
        s = (shift.get("shift") or {}).get(theme) or {}
        rows.append(
            {
                "theme": theme,
                "outcome": outcome,
                "crime_label": CRIME_LABEL[theme],
                "share_of_concerns": (shift.get("shares") or {}).get(theme),
                "share_change": s.get("change"),
                "share_change_ci": [s.get("ci_low"), s.get("ci_high")],
                "crime_estimate": est,
                "crime_ci": [lo, hi],
                "crime_moved": moved,
            }
        )
    return rows


def meeting_feedback(
    panels: tuple[pd.DataFrame, pd.DataFrame] | None,
    dq: pd.DataFrame | None,
    outcomes: dict,
    *,
    alpha: float,
    min_cell_size: int,
    seed: int,
    gaps: list[dict] | None = None,
) -> dict:
    """The `meeting_feedback` section of results.json (see the module docstring)."""
    if panels is None or panels[0].empty:
        return {"reason": "no meeting feedback delivered (meeting_feedback.csv is optional)"}
    items, themes = panels
    out = {"items": item_means(items, alpha, min_cell_size)}
    shift = theme_shift(themes, alpha) if not themes.empty else {"shares": {}, "shift": {}}
    out["themes"] = shift
    out["association_with_trust"] = association_with_trust(items, dq, alpha, seed)
    out["concerns_vs_crime"] = concerns_vs_crime(shift, outcomes)
    out["reporting_gaps"] = list(gaps or [])
    out["descriptive"] = (
        "Feedback exists only where meetings are held, so there is no comparison group: "
        "these figures describe, they do not estimate effects."
    )
    return out
