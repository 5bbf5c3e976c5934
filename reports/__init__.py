"""Council report: `render(results) -> str` (self-contained HTML) and `write_report`."""

from reports.render import city_slug, render, write_report

__all__ = ["city_slug", "render", "write_report"]
