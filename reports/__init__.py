"""Council report: `render(results) -> str` (self-contained HTML), `render_brief`, and
`write_report` / `write_council_pack` (HTML, brief, XLSX, CSV and PDF in one dated folder)."""

from reports.render import city_slug, render, render_brief, write_council_pack, write_report

__all__ = ["city_slug", "render", "render_brief", "write_council_pack", "write_report"]
