"""Trust and safety by resident group (issue 15, section 2): "did the program narrow the gap?"

Input: the group panel (`marts.district_quarter_survey_groups`: one row per index, group
column, group value, district and quarter, with the weighted mean of that group's answers,
its SE and response count, and the district's period and cohort). Output, per survey outcome:

- `by_group.<column>.<value>`: the program's effect on that group with the SAME estimator and
  few-district inference as the headline (`evaluation.survey.fit_headline`: average-of-pre
  base, imputation form, cluster jackknife scaled to unbiasedness, t with Satterthwaite df);
- `group_gaps.<column>`: the group that trusted least before roll-out (the reference), and for
  every other group the gap to it before and after roll-out in the program districts
  (descriptive: it moves with common trends too) and the difference of the two groups'
  effects (causal under parallel trends per group) with its interval.

Why a joint jackknife for the difference: both groups answer in the same districts and
quarters, so a district's shock moves both cell means; their effects are correlated and
sqrt(se_a^2 + se_b^2) would be too wide (or, with opposite loadings, too narrow). Each
estimate is linear in the cell means, sum v_c y_c, so the difference is one linear estimator
on the stacked cells of both groups; leaving a district out of BOTH groups' fits gives its
replicate, and the same bias factor and Satterthwaite df as the headline apply to it
(`estimators.avgbase.jackknife_dof`). With one group this is exactly the headline's
jackknife (tests/evaluation/test_groups.py checks it against `fit_avg_base`). Coverage of the
group effects and of the difference: bench/coverage_groups.py, table in docs/evaluation.md.

Privacy: cells with fewer than `min_cell_size` responses are used inside the estimators but
never published: only estimates over many cells and per-value response totals leave this
module, and a group value (or a gap) resting on fewer than `min_cell_size` responses in all is
published with a `reason` and no numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from estimators.avgbase import jackknife_dof, jackknife_vcov, linear_weights
from estimators.few_clusters import jackknife_groups
from estimators.twfe import t_estimate
from evaluation.outcomes import spec
from evaluation.settings import EvaluationSettings

METHOD = (
    "the headline's estimator per group (average-of-pre base, imputation form); difference "
    "of two groups' effects by a joint cluster jackknife over districts (both groups' fits "
    "leave the same district out), bias-corrected, Satterthwaite df"
)


def group_frames(dqg: pd.DataFrame, index_name: str, column: str) -> dict[str, pd.DataFrame]:
    """Per group value, its cells in the headline's frame layout (rows with a mean only)."""
    sel = dqg.loc[
        (dqg["index_name"] == index_name) & (dqg["group_column"] == column) & dqg["mean"].notna()
    ]
    out = {}
    for value, f in sel.groupby("group_value", sort=True):
        f = f[["district_id", "period", "mean", "se", "n_responses", "cohort_period"]].copy()
        f["cohort_period"] = f["cohort_period"].fillna(0).astype(int)
        out[str(value)] = f.reset_index(drop=True)
    return out


def combination(
    frames: list[pd.DataFrame],
    coefs: list[float],
    anticipation: int = 0,
    max_groups: int | None = None,
) -> dict:
    """sum_k coefs[k] * (overall effect on frames[k]) with the headline's jackknife (over
    groups of districts when there are more than `max_groups`, as the headline's).

    Returns {"estimate", "se", "df", "valid"}; `valid` is false (se and df None) when a
    replicate cannot be computed (e.g. a single treated district in a group).
    """
    ids = np.concatenate([f["district_id"].astype(str).to_numpy() for f in frames])
    cohorts = np.concatenate([f["cohort_period"].to_numpy(np.int64) for f in frames])
    districts, district_code = np.unique(ids, return_inverse=True)
    row_group, n_g = jackknife_groups(district_code.ravel(), cohorts, max_groups)
    group_of = np.zeros(len(districts), np.int64)
    group_of[district_code.ravel()] = row_group
    weights, rep_w = [], []
    estimate = 0.0
    reps = np.zeros(n_g)
    ok = True
    for f, coef in zip(frames, coefs, strict=True):
        d = f["district_id"].astype(str).to_numpy()
        u = np.searchsorted(districts, d)
        t = f["period"].to_numpy(np.int64)
        c = f["cohort_period"].to_numpy(np.int64)
        y = f["mean"].to_numpy(float)
        fit = linear_weights(u, t, c, anticipation=anticipation, labels=[("overall", 0)])
        if fit.n_target[0] == 0:
            return {"estimate": None, "se": None, "df": None, "valid": False}
        w = fit.weights[:, 0]
        estimate += coef * float(w @ y)
        rw = np.zeros((n_g, len(y)))
        for g in range(n_g):
            keep = group_of[u] != g
            if keep.all():  # district absent from this group: its fit is unchanged
                rw[g] = w
                reps[g] += coef * float(w @ y)
                continue
            sub = linear_weights(
                u[keep], t[keep], c[keep], anticipation=anticipation, labels=[("overall", 0)]
            )
            if sub.n_target[0] == 0:
                ok = False
                continue
            rw[g, keep] = sub.weights[:, 0]
            reps[g] += coef * float(sub.weights[:, 0] @ y[keep])
        weights.append(coef * w)
        rep_w.append(coef * rw)
    if not ok or n_g < 2:
        return {"estimate": estimate, "se": None, "df": None, "valid": False}
    wv = np.concatenate(weights)[:, None]
    rw = np.concatenate(rep_w, axis=1)[None, :, :]  # 1 estimand x replicates x cells
    var = float(jackknife_vcov(reps[:, None])[0, 0])
    df, factor = jackknife_dof(wv, rw)
    if not (math.isfinite(factor[0]) and math.isfinite(df[0])):
        return {"estimate": estimate, "se": None, "df": None, "valid": False}
    return {
        "estimate": estimate,
        "se": math.sqrt(max(var * float(factor[0]), 0.0)),
        "df": int(max(math.floor(float(df[0])), 1)),
        "valid": True,
    }


def _interval(res: dict, alpha: float) -> dict:
    if not res["valid"]:
        return {
            "estimate": res["estimate"],
            "se": None,
            "ci_low": None,
            "ci_high": None,
            "df": None,
        }
    e = t_estimate(res["estimate"], res["se"], alpha, res["df"])
    ci = (e.ci_low, e.ci_high) if math.isfinite(e.ci_low) else (None, None)
    return {"estimate": e.estimate, "se": e.se, "ci_low": ci[0], "ci_high": ci[1], "df": res["df"]}


def _pre_post(f: pd.DataFrame, anticipation: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The program districts' cells before roll-out (outside anticipation) and after."""
    treated = f["cohort_period"] > 0
    pre = treated & (f["period"] < f["cohort_period"] - anticipation)
    post = treated & (f["period"] >= f["cohort_period"])
    return f.loc[pre], f.loc[post]


def group_effect(f: pd.DataFrame, s: EvaluationSettings) -> dict:
    """`by_group.<column>.<value>` for one group's cells."""
    n = int(f["n_responses"].sum())
    if n < s.min_cell_size:
        return {
            "estimate": None,
            "ci_low": None,
            "ci_high": None,
            "n_responses": None,
            "reason": f"fewer than {s.min_cell_size} responses in all (model.min_cell_size): "
            "not published",
        }
    units = f.groupby("district_id")["cohort_period"].first()
    res = _interval(combination([f], [1.0], s.anticipation, s.jackknife_groups), s.alpha)
    if res["estimate"] is None:
        return {
            "estimate": None,
            "ci_low": None,
            "ci_high": None,
            "n_responses": n,
            "reason": "no program district-quarter of this group can be compared (no "
            "answers from it in a program district, or none to compare with)",
        }
    out = {
        **res,
        "n_responses": n,
        "n_districts": int(len(units)),
        "n_treated": int((units > 0).sum()),
    }
    if res["ci_low"] is None:
        out["reason"] = (
            "no valid interval: the group's effect rests on a single program "
            "district (no jackknife replicate)"
        )
    return out


def _gap(a: pd.DataFrame, b: pd.DataFrame, min_cell_size: int) -> float | None:
    """Mean over the district-quarters where both groups answered of (a - b); None when either
    side rests on fewer than `min_cell_size` responses in all (not published)."""
    m = a.merge(b, on=["district_id", "period"], suffixes=("_a", "_b"))
    if m.empty or min(m["n_responses_a"].sum(), m["n_responses_b"].sum()) < min_cell_size:
        return None
    return float((m["mean_a"] - m["mean_b"]).mean())


def column_gaps(
    frames: dict[str, pd.DataFrame], published: dict[str, dict], s: EvaluationSettings
) -> dict:
    """`group_gaps.<column>`: reference = the published group with the lowest pre-roll-out
    mean in the program districts; per other group the gap before/after and the difference
    of effects (reference minus other: > 0 means the reference group gained more)."""
    ok = [v for v, r in published.items() if r.get("estimate") is not None]
    pre_means = {}
    for v in ok:
        pre, _ = _pre_post(frames[v], s.anticipation)
        if pre["n_responses"].sum() >= s.min_cell_size:
            pre_means[v] = float(pre["mean"].mean())
    if len(pre_means) < 2:
        return {
            "reason": "fewer than two groups with published effects and answers before roll-out",
            "pairs": {},
        }
    ref = min(pre_means, key=pre_means.get)
    ref_pre, ref_post = _pre_post(frames[ref], s.anticipation)
    pairs = {}
    for v in sorted(pre_means):
        if v == ref:
            continue
        pre, post = _pre_post(frames[v], s.anticipation)
        diff = _interval(
            combination([frames[ref], frames[v]], [1.0, -1.0], s.anticipation, s.jackknife_groups),
            s.alpha,
        )
        before, after = _gap(pre, ref_pre, s.min_cell_size), _gap(post, ref_post, s.min_cell_size)
        if diff["ci_low"] is None:
            verdict = "no valid interval"
        elif diff["ci_low"] > 0:
            verdict = "narrowed"
        elif diff["ci_high"] < 0:
            verdict = "widened"
        else:
            verdict = "no clear change"
        pairs[v] = {
            "gap_before": before,
            "gap_after": after,
            "effect_difference": diff,
            "gap_change_due_to_program": verdict,
        }
    return {
        "reference": ref,
        "reference_rule": "the group with the lowest mean before roll-out in the program districts",
        "definition": "gap = group mean minus the reference group's mean, averaged over the "
        "program districts' quarters where both answered; effect_difference = reference "
        "group's effect minus this group's (> 0: the program narrowed the gap)",
        "method": METHOD,
        "pairs": pairs,
    }


def evaluate_groups(dqg: pd.DataFrame, index_name: str, s: EvaluationSettings) -> dict:
    """{"by_group": {column: {value: ...}}, "group_gaps": {column: ...}} for one index."""
    by_group, gaps = {}, {}
    for column in sorted(dqg.loc[dqg["index_name"] == index_name, "group_column"].unique()):
        frames = group_frames(dqg, index_name, str(column))
        published = {v: group_effect(f, s) for v, f in frames.items()}
        by_group[str(column)] = published
        gaps[str(column)] = column_gaps(frames, published, s)
    return {"by_group": by_group, "group_gaps": gaps}


def add_group_results(results: dict, dqg: pd.DataFrame | None, s: EvaluationSettings) -> dict:
    """Hook after `evaluation.run.evaluate`: adds by_group / group_gaps to every survey outcome
    that was estimated; a failure becomes a note and `group_gaps.reason`, never a crash."""
    if dqg is None or dqg.empty:
        return results
    for name, o in results.get("outcomes", {}).items():
        sp = spec(name)
        if sp.kind != "survey" or "reason" in o:
            continue
        try:
            o.update(evaluate_groups(dqg, sp.index_name, s))
        except Exception as exc:  # noqa: BLE001 - the headline stands without the groups
            o["by_group"], o["group_gaps"] = {}, {"reason": f"could not be estimated: {exc}"}
            results.setdefault("notes", []).append(f"{name}: groups could not be estimated: {exc}")
    return results
