"""At 390px no list page scrolls sideways: every data table is inside a frame that scrolls
(``table-wrap``), and a grid cell holding one may shrink below the table's width (a grid cell is as
wide as its content by default, which widened the dashboard to 486px)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


class _Tables(HTMLParser):
    """The ``table.data`` elements outside any ``.table-wrap``, by line."""

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, bool]] = []
        self.unwrapped: list[int] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "data" in classes and not any(wrap for _, wrap in self.open):
            self.unwrapped.append(self.getpos()[0])
        if tag in ("div", "section", "table", "details", "form", "td"):
            self.open.append((tag, "table-wrap" in classes))

    def handle_endtag(self, tag):
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                del self.open[i:]
                break


@pytest.mark.parametrize("template", sorted(p.relative_to(FRONTEND / "templates").as_posix()
                                            for p in (FRONTEND / "templates").rglob("*.html")))
def test_every_data_table_is_inside_a_scrolling_frame(template):
    source = (FRONTEND / "templates" / template).read_text()
    # Template tags are not HTML: blank them so the parser reads the markup around them.
    parser = _Tables()
    parser.feed(re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", "", source, flags=re.S))

    assert parser.unwrapped == [], f"{template}: <table class=\"data\"> outside a table-wrap at lines {parser.unwrapped}"


def test_a_grid_cell_may_be_narrower_than_its_table():
    css = (FRONTEND / "static/frontend/app.css").read_text()

    assert ".grid > * { min-width: 0; }" in css
