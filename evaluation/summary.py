"""Small human-readable views of a results document for the Dagster UI (no Dagster here).

`event_study_png` is a small chart of one outcome's event study with its band, as a PNG data
URI (Markdown metadata with an embedded image is what the Dagster UI renders; it does not render
Vega-Lite specs). The headline numbers are a table in the model asset's metadata.
"""

from __future__ import annotations

import base64
import io


def event_study_png(name: str, outcome: dict) -> str:
    """Markdown image (data URI) of the event study with its uniform band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [p for p in outcome.get("event_study") or [] if p.get("estimate") is not None]
    fig, ax = plt.subplots(figsize=(5, 2.4), dpi=80)
    try:
        x = [p["event_time"] for p in pts]
        y = [p["estimate"] for p in pts]
        band = [
            (p["event_time"], p["ci_low"], p["ci_high"])
            for p in pts
            if p.get("ci_low") is not None and p.get("ci_high") is not None
        ]
        if band:
            bx, lo, hi = zip(*band, strict=True)
            ax.fill_between(
                bx, lo, hi, color="#56B4E9", alpha=0.35, step="mid", label="uniform 95% band"
            )
        ax.plot(x, y, "o-", color="#0072B2", ms=2.5, lw=1)
        ax.axhline(0, color="black", lw=0.7)
        ax.axvline(-0.5, color="#D55E00", lw=0.8, ls="--")
        unit = outcome.get("units", "period")
        ax.set_xlabel(f"{unit}s since roll-out")
        ax.set_ylabel("proportional change" if outcome.get("scale") == "proportional" else "points")
        ax.set_title(name, fontsize=9)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"![{name} event study](data:image/png;base64,{data})"
