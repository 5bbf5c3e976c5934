"""`engagement-eval estimate`: fit one difference-in-differences method to a panel file.

Methods live in `estimators/` and are looked up by name in `METHODS`, imported only when
chosen, so a method whose module is missing or broken fails with one clear message instead
of breaking the command. Each method exposes `fit_<name>(panel, **options)` returning an
object whose `to_dict()` has `overall` and, where the method has them, `att_gt`,
`event_study` and `group`; options a method does not accept are not passed to it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
from pathlib import Path

import pandas as pd

from engagement_eval.errors import UserError

# --method -> (module, function)
METHODS = {
    "cs": ("estimators.callaway_santanna", "fit_cs"),
    "twfe": ("estimators.twfe", "fit_twfe"),
    "event-study": ("estimators.twfe", "fit_event_study"),
    "sun-abraham": ("estimators.sun_abraham", "fit_sun_abraham"),
    "imputation": ("estimators.imputation", "fit_imputation"),
    "poisson": ("estimators.poisson", "fit_poisson"),
}
LIST_KEYS = ("att_gt", "event_study", "group")


def add_arguments(parser) -> None:
    parser.add_argument("--panel", required=True, help="CSV or Parquet, one row per unit-period")
    parser.add_argument("--unit", required=True, help="unit id column")
    parser.add_argument("--time", required=True, help="integer period column")
    parser.add_argument("--outcome", required=True, help="outcome column")
    parser.add_argument(
        "--cohort", required=True, help="first treated period; 0 or empty = never treated"
    )
    parser.add_argument("--method", choices=list(METHODS), default="cs")
    parser.add_argument(
        "--control",
        choices=["never", "notyet"],
        default="notyet",
        help="comparison units: never treated or not yet treated",
    )
    parser.add_argument("--base-period", choices=["varying", "universal"], default="varying")
    parser.add_argument(
        "--anticipation",
        type=int,
        default=0,
        metavar="K",
        help="periods before the cohort date that may already be affected",
    )
    parser.add_argument(
        "--covariates", default="", metavar="A,B", help="comma-separated time-invariant covariates"
    )
    parser.add_argument("--est-method", choices=["dr", "ipw", "reg"], default="dr")
    parser.add_argument("--weights", default=None, metavar="COL", help="sampling weights")
    parser.add_argument(
        "--cluster", default=None, metavar="COL", help="cluster above the unit (default: the unit)"
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=0,
        metavar="N",
        help="multiplier-bootstrap draws (0 = analytic standard errors)",
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--json", default=None, metavar="OUT", help="write results as JSON")


def read_panel(path: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The panel file, restricted to `columns` when given.

    Reading only the columns the fit uses halves reading and conversion time on wide panels;
    names not in the file are left out here so `prepare_panel` reports them together with the
    columns the file does have.
    """
    p = Path(path)
    if not p.is_file():
        raise UserError(f"panel file {path} does not exist", "give the path to a CSV or Parquet")
    wanted = None if columns is None else set(columns)
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            if wanted is None:
                return pd.read_parquet(p)
            import pyarrow.parquet as pq

            present = pq.read_schema(p).names
            if not wanted.issubset(present):
                return pd.read_parquet(p)  # let prepare_panel name what is missing
            return pd.read_parquet(p, columns=[c for c in present if c in wanted])
        if wanted is None:
            return pd.read_csv(p)
        header = pd.read_csv(p, nrows=0).columns
        if not wanted.issubset(header):
            return pd.read_csv(p)
        return pd.read_csv(p, usecols=lambda c: c in wanted)
    except Exception as err:  # any reader failure is a bad file, not a bug
        raise UserError(
            f"could not read {path} ({type(err).__name__}: {err})",
            "the panel must be a CSV with a header row or a Parquet file",
            file=path,
        ) from None


def _load_method(name: str):
    module_name, func_name = METHODS[name]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, func_name)
    except (ImportError, AttributeError) as err:
        raise UserError(
            f"method '{name}' is not available in this installation ({err})",
            f"use --method cs, or install a version that provides {module_name}.{func_name}",
        ) from None


def _options(func, args) -> dict:
    """The CLI options the method accepts (by its signature)."""
    offered = {
        "control_group": args.control,
        "base_period": args.base_period,
        "anticipation": args.anticipation,
        "est_method": args.est_method,
        "bootstrap": args.bootstrap,
        "seed": args.seed,
        "alpha": args.alpha,
    }
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return offered
    return {k: v for k, v in offered.items() if k in params}


def run_estimate(args) -> dict:
    """Fit the chosen method and return the JSON-ready result (raises UserError)."""
    from estimators.panel import EstimationInputError, prepare_panel

    if not 0 < args.alpha < 1:
        raise UserError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.anticipation < 0 or args.bootstrap < 0:
        raise UserError("--anticipation and --bootstrap must be zero or positive")
    covariates = [c.strip() for c in args.covariates.split(",") if c.strip()]
    needed = [args.unit, args.time, args.outcome, args.cohort, *covariates]
    needed += [c for c in (args.weights, args.cluster) if c]
    df = read_panel(args.panel, needed)
    fit = _load_method(args.method)
    try:
        panel = prepare_panel(
            df,
            unit=args.unit,
            time=args.time,
            outcome=args.outcome,
            cohort=args.cohort,
            covariates=covariates,
            weights=args.weights,
            cluster=args.cluster,
        )
        result = fit(panel, **_options(fit, args))
    except (EstimationInputError, ValueError, KeyError) as err:
        raise UserError(
            str(err).strip("'\""), "check the column names and panel contents", file=args.panel
        ) from None
    raw = result.to_dict()
    out = {
        "method": args.method,
        "overall": raw.get("overall"),
        **{k: list(raw.get(k) or []) for k in LIST_KEYS},
        "n_units": raw.get("n_units", panel.n_units),
        "n_obs": raw.get("n_obs", len(panel.frame)),
    }
    if "settings" in raw:
        out["settings"] = raw["settings"]
    return out


def _num(v, width=10):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "NA".rjust(width)
    return f"{v:{width}.4f}"


def format_result(out: dict, alpha: float) -> str:
    pct = int(round(100 * (1 - alpha)))
    o = out.get("overall") or {}
    lines = [
        f"Method: {out['method']}   units: {out['n_units']}   observations: {out['n_obs']}",
        "",
        f"{'':16}{'estimate':>10}{'se':>10}{f'{pct}% low':>10}{f'{pct}% high':>10}{'p':>10}",
        f"{'Overall ATT':16}"
        + "".join(_num(o.get(k)) for k in ("estimate", "se", "ci_low", "ci_high", "p_value")),
    ]
    for key, label, col in (
        ("event_study", "Event study", "event_time"),
        ("group", "By cohort", "group"),
    ):
        rows = out.get(key) or []
        if not rows:
            continue
        lines += ["", f"{label}:", f"{col:>16}{'estimate':>10}{'se':>10}{'low':>10}{'high':>10}"]
        for r in rows:
            lines.append(
                f"{r[col]:>16g}"
                + "".join(_num(r.get(k)) for k in ("estimate", "se", "ci_low", "ci_high"))
            )
    return "\n".join(lines)


def main(args) -> int:
    # one BLAS thread, as the pipeline's model step (estimators.blas): the Makefile exports
    # OPENBLAS_NUM_THREADS=1, but the command started any other way did not get it
    from estimators.blas import one_blas_thread

    with one_blas_thread():
        out = run_estimate(args)
    print(format_result(out, args.alpha))
    if args.json:
        try:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(out, indent=2, allow_nan=False))
        except (OSError, ValueError) as err:
            raise UserError(f"could not write {args.json}: {err}") from None
        print(f"\nwrote {args.json}")
    return 0
