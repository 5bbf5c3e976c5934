"""Helpers for inference with few clusters (districts), shared by the crime and survey layers.

`jackknife_vcov`: the cluster jackknife (CV3) covariance from leave-one-cluster-out
estimates. MacKinnon, Nielsen & Webb (2023, "Cluster-robust inference: a guide to empirical
practice") recommend it over CR1 with few or unbalanced clusters; it is never smaller than
the leverage-corrected CR2 in linear models. A statistic a leave-out cannot compute (NaN,
e.g. a cohort whose only district was left out) takes the full-sample value for that
leave-out, i.e. contributes no spread: the jackknife then understates the variance of
statistics that rest on one cluster, which is why such designs are flagged elsewhere.
"""

from __future__ import annotations

import numpy as np


def grouped_jackknife_label(n_groups: int) -> str:
    """How results name the grouped jackknife (reports and notes quote it)."""
    return f"grouped cluster jackknife ({n_groups} groups of districts left out in turn)"


def jackknife_groups(
    cluster_codes: np.ndarray, cohort: np.ndarray, max_groups: int | None
) -> tuple[np.ndarray, int]:
    """Jackknife group of every row, and the number of groups.

    With at most `max_groups` clusters (or `max_groups` None) every cluster is its own group:
    the ordinary leave-one-cluster-out jackknife. With more, clusters are dealt round-robin
    into `max_groups` groups after sorting them by cohort (a cluster's largest row cohort,
    0 = never treated) and code, so every group mixes cohorts and two clusters of a small
    cohort never share a group; the jackknife then leaves one group out at a time (the
    delete-a-group jackknife of survey statistics, Kish & Frankel 1974; Rust & Rao 1996).

    Why: the leave-one-out refits cost G fits, and the survey jackknife's degrees-of-freedom
    algebra G^2 (a beat-level city of 300 districts took hours and 10 GB). Groups of whole
    clusters are still independent, so the grouped jackknife is a cluster jackknife at a
    coarser level: valid, with its t reference at most `max_groups` - 1 df. With 50 groups the
    95% t quantile is 2.01 instead of 1.97; coverage at 100-300 districts is in
    docs/evaluation.md (bench/coverage_jackknife_groups.py). Deterministic: no seed.
    """
    codes = np.unique(np.asarray(cluster_codes), return_inverse=True)[1].ravel()
    n_clusters = int(codes.max()) + 1 if len(codes) else 0
    if max_groups is None or n_clusters <= max_groups:
        return codes, n_clusters
    if max_groups < 2:
        raise ValueError(f"a jackknife needs at least 2 groups, got {max_groups}")
    cluster_cohort = np.zeros(n_clusters)
    np.maximum.at(cluster_cohort, codes, np.nan_to_num(np.asarray(cohort, float)))
    order = np.lexsort((np.arange(n_clusters), cluster_cohort))
    group_of = np.empty(n_clusters, np.int64)
    group_of[order] = np.arange(n_clusters) % max_groups
    return group_of[codes], int(max_groups)


def jackknife_vcov(leave_outs: np.ndarray, full: np.ndarray, center: str = "mean") -> np.ndarray:
    """CV3 covariance (G-1)/G * sum_g (t_g - c)(t_g - c)' of leave-one-out estimates.

    `leave_outs`: (G x k), one row per left-out cluster (NaN where not computable; a row that
    failed entirely is all NaN and is dropped, G counting only the rows kept). `full`: (k,)
    the full-sample estimates, the fallback for NaN cells. `center`: "mean" of the
    leave-outs (CV3 proper) or "full" (the full-sample estimate, slightly larger).
    """
    reps = np.asarray(leave_outs, float)
    full = np.asarray(full, float)
    reps = reps[~np.all(np.isnan(reps), axis=1)]
    g = reps.shape[0]
    if g < 2:
        return np.full((len(full), len(full)), np.nan)
    reps = np.where(np.isnan(reps), full[None, :], reps)
    c = reps.mean(axis=0) if center == "mean" else full
    dev = reps - c[None, :]
    return (g - 1) / g * dev.T @ dev


def leave_one_out(estimate, clusters: np.ndarray) -> np.ndarray:
    """Stack `estimate(keep_mask)` (a 1-D array, NaN allowed) over leave-one-cluster-out masks.

    `estimate` receives a boolean row mask (False for the left-out cluster's rows) and returns
    the statistics; an exception from a leave-out (e.g. no comparison left) gives a NaN row.
    """
    uniq = np.unique(clusters)
    rows = []
    for cid in uniq:
        try:
            rows.append(np.asarray(estimate(clusters != cid), float))
        except (ValueError, np.linalg.LinAlgError):
            rows.append(None)
    k = max((len(r) for r in rows if r is not None), default=0)
    return np.array([np.full(k, np.nan) if r is None else r for r in rows])
