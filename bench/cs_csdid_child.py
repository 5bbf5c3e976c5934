"""csdid's whole process for the CS scale benchmark: read the panel, fit, aggregate, write JSON.

`python -m bench.cs_csdid_child PANEL OUT` does what `engagement-eval estimate --method cs
--control never` does (Parquet in; ATT(g,t), simple, dynamic and group aggregations with
analytic standard errors out) with the csdid package, so the two processes can be timed and
their peak memory compared side by side (`bench.bench_cs_scale`).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings

import numpy as np
import pandas as pd


def main(argv: list[str]) -> int:
    from csdid.att_gt import ATTgt

    panel, out = argv
    df = pd.read_parquet(panel, columns=["unit", "time", "y", "cohort"])
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ATTgt(
            yname="y", tname="time", idname="unit", gname="cohort", data=df,
            control_group="nevertreated",
        ).fit(bstrap=False)  # fmt: skip
        aggs = {}
        for kind in ("simple", "dynamic", "group"):
            fit.aggte(typec=kind, bstrap=False)
            aggs[kind] = dict(fit.atte)
    result = {
        "att": np.asarray(fit.results["att"]).tolist(),
        "se": np.asarray(fit.results["se"]).tolist(),
        "simple": float(aggs["simple"]["overall_att"]),
        "simple_se": float(aggs["simple"]["overall_se"]),
        "dynamic": np.asarray(aggs["dynamic"]["att_egt"]).tolist(),
        "dynamic_se": np.asarray(aggs["dynamic"]["se_egt"]).tolist(),
        "group": np.asarray(aggs["group"]["att_egt"]).tolist(),
        "group_se": np.asarray(aggs["group"]["se_egt"]).tolist(),
    }
    with open(out, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
