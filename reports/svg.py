"""A tiny SVG builder: just enough for axes, lines, bands and bars.

Hand-written rather than matplotlib so the output is small, deterministic, uses the page's own
(system) fonts, and scales with a viewBox on any screen. Text is always escaped here.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
BLUE = "#0072B2"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
VERMILLION = "#D55E00"
GREY = "#6b6b6b"
LIGHT = "#d9d9d9"
INK = "#1a1a1a"


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def num(x: float) -> str:
    """Compact coordinate: 2 decimals, no trailing zeros (keeps files small)."""
    s = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def el(tag: str, content: str = "", **attrs) -> str:
    parts = []
    for k, v in attrs.items():
        if v is None:
            continue
        name = k.rstrip("_").replace("_", "-")
        parts.append(f'{name}="{esc(num(v) if isinstance(v, float) else v)}"')
    attr = (" " + " ".join(parts)) if parts else ""
    if content == "":
        return f"<{tag}{attr}/>"
    return f"<{tag}{attr}>{content}</{tag}>"


def text(x, y, s, **attrs) -> str:
    return el("text", esc(s), x=float(x), y=float(y), **attrs)


def path_d(points: list[tuple[float, float]]) -> str:
    return "M" + " L".join(f"{num(x)},{num(y)}" for x, y in points)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5, 5 x 10^k steps)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 0.5 and len(ticks) < 50:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


@dataclass(frozen=True)
class Linear:
    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, v: float) -> float:
        span = self.d1 - self.d0 or 1.0
        return self.r0 + (v - self.d0) / span * (self.r1 - self.r0)


@dataclass(frozen=True)
class Frame:
    """Plot area inside a fixed-size viewBox."""

    width: int = 720
    height: int = 340
    left: int = 70
    right: int = 20
    top: int = 62
    bottom: int = 46

    @property
    def x0(self):
        return self.left

    @property
    def x1(self):
        return self.width - self.right

    @property
    def y0(self):
        return self.height - self.bottom

    @property
    def y1(self):
        return self.top


def svg_root(chart_id: str, title: str, desc: str, frame: Frame, body: str) -> str:
    """Accessible root: role=img, labelled by its own <title> and <desc>."""
    return (
        f'<svg class="chart" id="{esc(chart_id)}" viewBox="0 0 {frame.width} {frame.height}" '
        f'role="img" aria-labelledby="{esc(chart_id)}-t {esc(chart_id)}-d" '
        f'preserveAspectRatio="xMidYMid meet">'
        f'<title id="{esc(chart_id)}-t">{esc(title)}</title>'
        f'<desc id="{esc(chart_id)}-d">{esc(desc)}</desc>{body}</svg>'
    )


def tick_formatter(ticks: list[float], suffix: str = "", signed: bool = False):
    """Same number of decimals on every tick, just enough to tell neighbours apart."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = 0 if step >= 1 else min(3, max(0, -math.floor(math.log10(step) + 1e-9)))
    if step < 1 and round(step * 10**decimals, 6) % 1:
        decimals += 1
    sign = "+" if signed else ""
    return lambda v: f"{v:{sign},.{decimals}f}{suffix}"


def y_axis(frame: Frame, ys: Linear, ticks: list[float], fmt, label: str) -> str:
    out = []
    for t in ticks:
        y = ys(t)
        out.append(el("line", x1=float(frame.x0), x2=float(frame.x1), y1=y, y2=y, class_="grid"))
        out.append(text(frame.x0 - 8, y + 4, fmt(t), class_="tick", text_anchor="end"))
    out.append(text(frame.x0 - 8, frame.y1 - 14, label, class_="axis-label", text_anchor="start"))
    return "".join(out)


def x_axis(frame: Frame, xs: Linear, ticks: list[tuple[float, str]], label: str) -> str:
    out = [
        el(
            "line",
            x1=float(frame.x0),
            x2=float(frame.x1),
            y1=float(frame.y0),
            y2=float(frame.y0),
            class_="axis",
        )
    ]
    for v, lab in ticks:
        x = xs(v)
        out.append(el("line", x1=x, x2=x, y1=float(frame.y0), y2=frame.y0 + 5.0, class_="axis"))
        out.append(text(x, frame.y0 + 20, lab, class_="tick", text_anchor="middle"))
    if label:
        out.append(
            text(
                (frame.x0 + frame.x1) / 2,
                frame.height - 6,
                label,
                class_="axis-label",
                text_anchor="middle",
            )
        )
    return "".join(out)


def legend(items: list[tuple[str, str, str]], x: float, y: float) -> str:
    """items: (label, colour, dash) as short line samples in one row; dash "band" = a patch."""
    out, cx = [], x
    for label, colour, dash in items:
        if dash == "band":
            out.append(
                el(
                    "rect",
                    x=cx,
                    y=y - 11.0,
                    width=26.0,
                    height=12.0,
                    fill=colour,
                    fill_opacity="0.35",
                )
            )
        else:
            out.append(
                el(
                    "line",
                    x1=cx,
                    x2=cx + 26,
                    y1=y - 4.0,
                    y2=y - 4.0,
                    stroke=colour,
                    stroke_width="3",
                    stroke_dasharray=dash or None,
                )
            )
        out.append(text(cx + 32, y, label, class_="legend"))
        cx += 42 + 8.2 * len(label)
    return "".join(out)
