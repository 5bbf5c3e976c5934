"""Meeting feedback forms (issue 15) with a stated truth.

Some attendees of each meeting fill in a form: three ratings on 1-5, a topic label in the
city's own words (the demo config's `feedback.topic_map` maps them to themes; a few labels are
left unmapped on purpose and must count as `other`), and a free-text comment that must never
leave `raw`.

Ratings: rating = clip(round(m[d] + lift(e) + item_shift + u + noise), 1, 5), where
m[d] = FELT_HEARD_BASE + HEARD_PER_TRUST * (g[d] - mean g) ties how heard a treated
district's residents feel to its true trust gain g[d] (the average survey trust-index effect
over its treated quarters), so "districts whose residents felt more heard saw larger trust
gains" has a known answer; lift grows after roll-out. truth.json states the expected rating
per district and item (exact, from the normal CDF) and the resulting across-district slope,
and the theme probabilities before and after roll-out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from simulator.design import NEVER, Design
from simulator.params import ramp
from simulator.survey import SurveyModel

ITEMS = ("felt_heard", "concerns_addressed", "would_attend_again")
ITEM_SHIFT = np.array([0.0, -0.35, 0.25])
FELT_HEARD_BASE = 3.3
HEARD_PER_TRUST = 4.0  # latent rating points per point of true trust gain
LIFT = 0.4  # latent rise of every rating at full ramp after roll-out
RESPONDENT_SD = 0.5  # shared by a respondent's three ratings
NOISE_SD = 0.7
FORM_RATE = 0.08  # share of attendees who hand in a form
BLANK_SHARE = 0.03  # each item left blank with this probability
# City topic label -> theme; probabilities before and after roll-out (same label order).
TOPICS = (
    ("Shots fired", "violence", 0.14, 0.10),
    ("Burglary", "property", 0.16, 0.12),
    ("Car break-ins", "property", 0.10, 0.08),
    ("Drug dealing", "drugs", 0.10, 0.08),
    ("Speeding", "traffic", 0.12, 0.14),
    ("Noise and loitering", "disorder", 0.12, 0.12),
    ("Kids and teens", "youth", 0.08, 0.10),
    ("Officer behaviour", "police_conduct", 0.10, 0.14),
    ("Potholes", "other", 0.05, 0.07),  # left out of the topic map: counts as other
    ("", None, 0.03, 0.05),  # no topic given
)
COMMENTS = (
    "Thanks for listening to us.",
    "The meeting ran late but it was useful.",
    "Please come back to our block soon.",
    "",
)


def topic_map() -> dict[str, str]:
    """The demo config's feedback.topic_map (unmapped labels are left out on purpose)."""
    return {label: theme for label, theme, *_ in TOPICS if theme and theme != "other"}


def trust_gain(design: Design, survey: SurveyModel) -> np.ndarray:
    """Each district's true trust-index effect averaged over its treated quarters (0 if none)."""
    effect = survey.effect()[:, :, :2].mean(axis=2)  # trust index = mean of the trust items
    post = survey.event_time >= 0
    total = np.where(post, effect, 0.0).sum(axis=1)
    return np.divide(total, post.sum(axis=1), out=np.zeros(design.n_districts), where=post.any(1))


def district_level(design: Design, survey: SurveyModel) -> np.ndarray:
    treated = design.cohort_of != NEVER
    g = trust_gain(design, survey)
    centre = g[treated].mean() if treated.any() else 0.0
    return FELT_HEARD_BASE + np.where(treated, HEARD_PER_TRUST * (g - centre), 0.0)


def expected_rating(latent_mean: np.ndarray) -> np.ndarray:
    """E[clip(round(latent + N(0, s^2)), 1, 5)] in closed form."""
    s = np.sqrt(RESPONDENT_SD**2 + NOISE_SD**2)
    cuts = np.array([1.5, 2.5, 3.5, 4.5])
    return 1.0 + ndtr((np.asarray(latent_mean)[..., None] - cuts) / s).sum(axis=-1)


def feedback_table(
    meetings: pd.DataFrame, design: Design, survey: SurveyModel, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per form; `meetings` as written (district_id, meeting_date, attendees)."""
    forms = rng.binomial(meetings["attendees"].to_numpy(), FORM_RATE)
    m = np.repeat(np.arange(len(meetings)), forms)
    n = len(m)
    position = {d: i for i, d in enumerate(design.district_ids)}
    d = meetings["district_id"].map(position).to_numpy()[m]
    day = meetings["meeting_date"].to_numpy().astype("datetime64[D]")[m]
    month = day.astype("datetime64[M]")
    month_index = np.searchsorted(design.calendar.months.astype("datetime64[M]"), month)
    event = design.event_months()[d, month_index]
    level = district_level(design, survey)[d] + LIFT * ramp(event, design.params.ramp_months)
    u = rng.normal(0, RESPONDENT_SD, n)
    latent = level[:, None] + ITEM_SHIFT + u[:, None] + rng.normal(0, NOISE_SD, (n, len(ITEMS)))
    ratings = np.clip(np.round(latent), 1, 5)
    ratings[rng.random(ratings.shape) < BLANK_SHARE] = np.nan
    pre = np.array([t[2] for t in TOPICS])
    post = np.array([t[3] for t in TOPICS])
    after = event >= 0
    draw = rng.random(n)
    cum = np.where(after[:, None], np.cumsum(post / post.sum()), np.cumsum(pre / pre.sum()))
    topic = np.minimum((draw[:, None] > cum).sum(axis=1), len(TOPICS) - 1)
    submitted = day + rng.geometric(0.5, n) - 1  # the same day or a few days later
    frame = pd.DataFrame(
        {
            "feedback_id": [f"F{i:07d}" for i in range(1, n + 1)],
            "meeting_id": meetings["meeting_id"].to_numpy()[m],
            "submitted_date": submitted.astype(str),
        }
    )
    for j, item in enumerate(ITEMS):
        frame[item] = pd.array(ratings[:, j], dtype="Int64")
    frame["topic"] = np.asarray([t[0] for t in TOPICS], dtype=object)[topic]
    frame["comment"] = np.asarray(COMMENTS, dtype=object)[rng.integers(0, len(COMMENTS), n)]
    return frame


def feedback_truth(design: Design, survey: SurveyModel) -> dict:
    """Per treated district: the expected felt_heard rating over its treated months and its true
    trust gain; the across-district OLS slope of gain on rating (what the pipeline's
    `association_with_trust.slope` estimates, up to noise and form weights); theme shares."""
    treated = np.flatnonzero(design.cohort_of != NEVER)
    g = trust_gain(design, survey)
    event = design.event_months()
    lifted = district_level(design, survey)[:, None] + LIFT * ramp(event, design.params.ramp_months)
    post = event >= 0
    heard = np.divide(  # expected felt_heard over the treated months (equal weight per month)
        np.where(post, expected_rating(lifted), 0.0).sum(axis=1),
        post.sum(axis=1),
        out=np.zeros(design.n_districts),
        where=post.any(axis=1),
    )
    x, y = heard[treated], g[treated]
    slope = float(np.polyfit(x, y, 1)[0]) if len(treated) > 1 and np.ptp(x) > 0 else None
    themes_pre: dict[str, float] = {}
    themes_post: dict[str, float] = {}
    pre_total = sum(t[2] for t in TOPICS if t[1])
    post_total = sum(t[3] for t in TOPICS if t[1])
    for _, theme, p_pre, p_post in TOPICS:
        if theme:
            themes_pre[theme] = themes_pre.get(theme, 0.0) + p_pre / pre_total
            themes_post[theme] = themes_post.get(theme, 0.0) + p_post / post_total
    return {
        "formula": (
            "rating = clip(round(m[d] + lift*ramp(e) + item_shift[item] + u + noise), 1, 5); "
            "m[d] = base + heard_per_trust*(trust_gain[d] - mean over treated), base for "
            "comparison districts; u ~ N(0, respondent_sd^2), noise ~ N(0, noise_sd^2)"
        ),
        "items": list(ITEMS),
        "item_shift": dict(zip(ITEMS, ITEM_SHIFT.tolist(), strict=True)),
        "base": FELT_HEARD_BASE,
        "heard_per_trust": HEARD_PER_TRUST,
        "lift_at_full_ramp": LIFT,
        "respondent_sd": RESPONDENT_SD,
        "noise_sd": NOISE_SD,
        "form_rate": FORM_RATE,
        "blank_share": BLANK_SHARE,
        "trust_gain": {design.district_ids[i]: float(g[i]) for i in treated},
        "felt_heard_after_rollout": {design.district_ids[i]: float(heard[i]) for i in treated},
        "trust_gain_per_felt_heard_point": slope,
        "theme_shares_before": themes_pre,
        "theme_shares_after": themes_post,
        "topic_map": topic_map(),
        "unmapped_topics": [t[0] for t in TOPICS if t[1] == "other"],
    }
