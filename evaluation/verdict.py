"""The verdict: how strong the evidence is, decided once, in the evaluation layer.

A council hears one sentence per outcome. A confident wrong answer is worse than none, so the
verdict is built to tell a real effect from the two things that most often fake one in a
roll-out with few districts:

- a trend the program districts were already on (Roth 2022; Rambachan & Roth 2023): the
  pre-roll-out event study is checked with a one-degree-of-freedom linear-trend test beside the
  joint test, the power of those checks is measured against the very trend that would have
  produced the estimate, and the estimate must survive extrapolating the pre-roll-out trend
  (HonestDiD smoothness, M = 0);
- intervals that rest on too few districts: when the interval method cannot be valid (for
  example a single district had the program) there is no verdict, only the reason.

Levels: "strong" (interval excludes zero and no blocking concern), "some" (interval excludes
zero but a blocking concern remains), "none" (interval includes zero), "unavailable" (no valid
interval). Concern codes are documented in docs/evaluation.md and listed in `CONCERNS`; some only
inform (they are reported, never downgrade). Every threshold lives in `VerdictRules`; the
simulation study `bench/verdict_study.py` measures the resulting verdict rates (its confusion
matrix is in docs/evaluation.md), which is how the thresholds were budgeted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from evaluation.diagnostics import rebase


@dataclass(frozen=True)
class Concern:
    code: str
    blocking: bool  # True: its presence turns "strong" into "some"
    phrase: str  # plain words, to follow "but" in the verdict sentence


CONCERNS: dict[str, Concern] = {
    c.code: c
    for c in (
        Concern(
            "pre_trend",
            True,
            "the program districts were already moving apart from the others before the "
            "program started, in a way that could produce this result",
        ),
        Concern(
            "pre_test_weak",
            True,
            "the years before the program are too noisy to rule out that a trend already "
            "under way produced this result",
        ),
        Concern(
            "not_checked",
            True,
            "the data hold too little time before the program started to check the comparison",
        ),
        Concern(
            "sensitivity",
            False,
            "the result would not survive a modest bend in the districts' earlier trend",
        ),
        Concern(
            "few_districts",
            False,
            "few districts took part, so the range uses a method made for small numbers of "
            "districts and is wide",
        ),
        Concern(
            "single_district_cohort",
            False,
            "at least one roll-out group is a single district, whose own ups and downs cannot "
            "be told apart from the program's effect",
        ),
    )
}


@dataclass(frozen=True)
class VerdictRules:
    """Thresholds of the verdict (documented; budgeted by `bench/verdict_study.py`).

    `trend_alpha`: level of the linear-trend test on the leads; `joint_alpha`: level of the
    joint test of all leads (kept stricter: it adds false alarms on clean cities but little
    power against trends); `weak_power`: a pre-test whose power against the trend that would
    explain the estimate is below this is "weak"; `few_districts`: fewer districts than this
    raise the informational `few_districts` concern; `require_sd0`: also call the check weak
    when the estimate does not survive extrapolating the pre-roll-out trend (Delta-SD, M = 0).
    Off by default: Delta-SD uses only the last few leads (each costs a degree of freedom), so
    with few districts its M = 0 interval is many times wider than the headline's and the
    verdict study found it blocked nearly every clean city without adding protection beyond
    the power rule.
    """

    trend_alpha: float = 0.05
    joint_alpha: float = 0.01
    weak_power: float = 0.8
    few_districts: int = 20
    require_sd0: bool = False


@dataclass(frozen=True)
class Verdict:
    level: str  # "strong" | "some" | "none" | "unavailable"
    direction: str | None  # "decrease" | "increase" | None
    concerns: list[str] = field(default_factory=list)
    text: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def _includes_zero(row: dict | None) -> bool | None:
    if not row:
        return None
    lo, hi = _num(row.get("ci_low")), _num(row.get("ci_high"))
    if lo is None or hi is None:
        return None
    return lo <= 0 <= hi


def pre_trend_concerns(checks: dict | None, rules: VerdictRules) -> list[str]:
    """Blocking and informational codes from the pre-roll-out checks (`pretrend_checks`)."""
    if not checks:
        return ["not_checked"]
    out: list[str] = []
    linear_p, joint_p = _num(checks.get("linear_p")), _num(checks.get("joint_p"))
    if linear_p is None and joint_p is None:
        return ["not_checked"]
    rejected = (linear_p is not None and linear_p < rules.trend_alpha) or (
        joint_p is not None and joint_p < rules.joint_alpha
    )
    sd = {_num(r.get("m")): r for r in checks.get("honest_sd") or []}
    sd0_zero = _includes_zero(sd.get(0.0))
    power = _num(checks.get("power_linear_vs_explaining"))
    if rejected:
        out.append("pre_trend")
    elif (
        (rules.require_sd0 and sd0_zero is not False) or power is None or (power < rules.weak_power)
    ):
        # Nothing was seen before roll-out, but either the estimate does not survive
        # extrapolating the pre-roll-out trend, or the check could not have seen the trend that
        # would produce it: absence of evidence is not evidence of absence.
        out.append("pre_test_weak")
    positive = sorted(m for m in sd if m is not None and m > 0)
    if sd0_zero is False and positive and _includes_zero(sd[positive[0]]):
        out.append("sensitivity")
    return out


def design_concerns(o: dict, rules: VerdictRules) -> list[str]:
    out = []
    n_units = o.get("n_units")
    if isinstance(n_units, int) and n_units < rules.few_districts:
        out.append("few_districts")
    sizes = o.get("cohort_sizes") or {}
    if any(int(v) == 1 for v in sizes.values()):
        out.append("single_district_cohort")
    return out


def decide(o: dict, rules: VerdictRules = VerdictRules()) -> Verdict:
    """The verdict of one outcome's results entry (needs estimate, interval, `inference`,
    `cohort_sizes`, `n_units` and `pre_trend_checks` as evaluation writes them)."""
    est, lo, hi = _num(o.get("estimate")), _num(o.get("ci_low")), _num(o.get("ci_high"))
    inference = o.get("inference") or {}
    if est is None or lo is None or hi is None:
        reason = o.get("reason") or "the effect could not be estimated"
        return Verdict("unavailable", None, [], _sentence(f"No verdict: {reason}"))
    if inference.get("valid") is False:
        reason = inference.get("reason") or "no valid interval exists for this roll-out"
        return Verdict("unavailable", None, [], _sentence(f"No verdict: {reason}"))
    concerns = design_concerns(o, rules)
    if lo <= 0 <= hi:
        return Verdict("none", None, concerns, "No clear evidence of a change.")
    direction = "decrease" if hi < 0 else "increase"
    concerns = pre_trend_concerns(o.get("pre_trend_checks"), rules) + concerns
    blocking = [c for c in concerns if CONCERNS[c].blocking]
    article = "an" if direction == "increase" else "a"
    if not blocking:
        return Verdict("strong", direction, concerns, f"Strong evidence of {article} {direction}.")
    return Verdict(
        "some",
        direction,
        concerns,
        f"Some evidence of {article} {direction}, but {CONCERNS[blocking[0]].phrase}.",
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


# Which of the event studies an outcome hands over the checks use (months per period); the
# first one present wins. Chosen by the verdict study (see docs/evaluation.md).
CHECK_RESOLUTION = ("monthly", "quarterly")


def checks_input(es: dict | None, cohort_sizes: dict | None = None) -> dict | None:
    """The event study for `pretrend_checks`: the finest resolution the outcome hands over
    (nested under "monthly"/"quarterly", else the top level), with `target_weights` restricted
    to the post periods when they were given for every event time."""
    if not es:
        return None
    for key in CHECK_RESOLUTION:
        if isinstance(es.get(key), dict):
            es = es[key]
            break
    ref = int(es.get("reference", -1))
    times, weights = list(es["event_times"]), list(es.get("target_weights") or [])
    if ref in times:
        es, times, weights = (
            rebased(es, ref),
            [t for t in times if t != ref],
            [w for t, w in zip(times, weights, strict=True) if t != ref],
        )
    if len(weights) == len(times):
        weights = [w for t, w in zip(times, weights, strict=True) if t > ref]
    out = {**es, "reference": ref, "target_weights": weights}
    if "base_center" not in out and cohort_sizes:
        # both producers give event times in the panel's own periods, as cohort_sizes are
        out["base_center"] = base_center(out, cohort_sizes)
    return out


def base_center(es: dict, cohort_sizes: dict) -> float | None:
    """Mean event time of the headline's base, in the event study's periods.

    Both headlines (Poisson extended TWFE; the survey's average-of-pre-periods DiD) compare a
    treated cohort's post periods with ALL its periods before roll-out, not with the period
    just before. Cohort g (first treated period g of the panel, periods counted from 1) has
    pre-periods at event times 1 - g .. -1, centred on -g/2; cohorts weigh by their treated
    district-periods, n_g * (T - g + 1), with T = g_min + the last post event time. A linear
    pre-trend of slope s then biases the headline by s * (sum_j w_j t_j - base_center).
    """
    sizes = {int(g): int(n) for g, n in cohort_sizes.items() if int(n) > 0}
    times = [t for t in es["event_times"] if t >= 0]
    if not sizes or not times:
        return None
    last = max(times) + min(sizes)
    mass = {g: n * max(last - g + 1, 0) for g, n in sizes.items()}
    total = sum(mass.values())
    if total <= 0:
        return None
    return float(sum(m * (-g / 2.0) for g, m in mass.items()) / total)


def rebased(es: dict, ref: int) -> dict:
    """`es` with every event time against `ref` (see `diagnostics.rebase`)."""
    times, beta, vcov = rebase(es["event_times"], es["estimates"], es["vcov"], ref)
    return {**es, "event_times": times, "estimates": beta.tolist(), "vcov": vcov.tolist()}


def finalize(o: dict, settings) -> dict:
    """Pre-roll-out checks on the headline's own event study, then the verdict, in place.

    `o` is one outcome's entry as `evaluation.crime` / `evaluation.survey` build it; their
    private `_es_for_diagnostics` (leads and lags against a common base with a joint covariance,
    on the headline's scale) is consumed here and not published.
    """
    from evaluation.pretrend_checks import pretrend_checks

    es = checks_input(o.pop("_es_for_diagnostics", None), o.get("cohort_sizes"))
    est = _num(o.get("estimate"))
    if es is not None and est is not None:
        checks = pretrend_checks(es, est, alpha=settings.alpha, seed=settings.seed)
        o["pre_trend_checks"] = checks.to_dict()
    else:
        o["pre_trend_checks"] = None
    o["verdict"] = decide(o).to_dict()
    return o
