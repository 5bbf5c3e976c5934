"""Names in the report (issue 13): an unclosed right-to-left override in a district name must
not reverse the text after it, and a 3,000-character name must not widen the page. Names are
wrapped in <bdi> (or FSI ... PDI in plain text), shortened to 60 characters + "…", and the
full name is kept in a title."""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reports"))
from headless import check_page, chromium_available  # noqa: E402
from report_fixtures import demo_results  # noqa: E402

from reports import render  # noqa: E402
from reports.names import FSI, LIMIT, PDI, name_html  # noqa: E402

RLO = "\u202e"
EVIL = f"Harbour{RLO}gnitaeb"  # an override left open
LONG = "Q" * 3000


def _results() -> dict:
    r = demo_results()
    r["city"] = LONG
    r["rollout"][0]["name"] = EVIL
    r["rollout"][1]["name"] = "W" * 3000
    r["quality"]["reporting_gaps"] = [{"district": EVIL, "month": "2020-04"}] + [
        {"district": LONG, "month": "2020-05"}
    ]
    return r


def _isolated(text: str) -> bool:
    """Every RLO sits inside a <bdi> ... </bdi> or an FSI ... PDI that closes after it."""
    for match in re.finditer(RLO, text):
        before, after = text[: match.start()], text[match.end() :]
        in_bdi = before.rfind("<bdi") > before.rfind("</bdi>") and "</bdi>" in after
        in_fsi = before.rfind(FSI) > before.rfind(PDI) and PDI in after
        if not (in_bdi or in_fsi):
            return False
    return True


def test_names_are_isolated_shortened_and_kept_whole_in_a_title():
    page = render(_results())
    assert RLO in page and _isolated(page)
    assert f'<bdi title="{LONG}">{"Q" * LIMIT}…</bdi>' in page  # the gap list
    assert f'<h1 title="{LONG}">' in page
    visible = html.unescape(re.sub(r"<[^>]+>|title=\"[^\"]*\"", " ", page))
    assert max(len(w) for w in re.findall(r"\S+", visible)) <= LIMIT + 20


def test_the_isolation_check_is_not_empty():
    assert not _isolated(f"<p>{EVIL} and the rest</p>")
    assert _isolated(str(name_html(EVIL)) + " and the rest")


@pytest.mark.browser
def test_page_width_stays_bounded_with_a_3000_character_name(tmp_path):
    if not chromium_available():
        pytest.skip("needs /usr/bin/chromium (scripts/install_system_deps.sh)")
    page = tmp_path / "report.html"
    page.write_text(render(_results()), encoding="utf-8")
    result = check_page(page, tmp_path / "profile")
    for view, w in result.layout.items():
        assert w["scroll"] <= w["inner"], f"{view}: page wider than the window {w}"


@pytest.mark.parametrize("city", ["S" * 286, "Ville de Saint-Étienne / Ñuñoa: ../../etc " * 8])
def test_a_long_or_odd_city_name_still_writes_the_council_pack(tmp_path, city):
    """A 286-character city name broke the report step (file name too long) after the models
    ran; the folder is named by a safe stem, and every file of the pack is written inside the
    output folder."""
    from reports import write_council_pack

    r = demo_results()
    r["city"] = city
    pack = write_council_pack(r, tmp_path / "reports", city, pdf=False)
    assert pack.report.is_file()
    out = (tmp_path / "reports").resolve()
    for path in [pack.report, *pack.files]:
        resolved = Path(path).resolve()
        assert resolved.is_relative_to(out)
        assert all(len(part.encode()) <= 255 for part in resolved.parts)
    assert html.escape(city[:40]) in pack.report.read_text(encoding="utf-8")
