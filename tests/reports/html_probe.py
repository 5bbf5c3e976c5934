"""Parse a rendered report with the standard library so tests can inspect its structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

URL_ATTRS = {"src", "href", "xlink:href", "action", "data", "poster", "srcset", "formaction"}


@dataclass
class Element:
    tag: str
    attrs: dict
    text: str = ""
    children: list = field(default_factory=list)


class Probe(HTMLParser):
    """Flat list of elements (with their direct and nested text) plus h2 order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []

    def handle_starttag(self, tag, attrs):
        el = Element(tag, {k: (v or "") for k, v in attrs})
        self.elements.append(el)
        if self.stack:
            self.stack[-1].children.append(el)
        if tag not in {"meta", "br", "img", "input", "link", "hr", "wbr"}:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        el = Element(tag, {k: (v or "") for k, v in attrs})
        self.elements.append(el)
        if self.stack:
            self.stack[-1].children.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for el in self.stack:
            el.text += data

    def find(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def by_id(self, id_: str) -> Element | None:
        return next((e for e in self.elements if e.attrs.get("id") == id_), None)


def probe(html: str) -> Probe:
    p = Probe()
    p.feed(html)
    p.close()
    return p
