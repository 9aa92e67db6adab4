"""Static assets are served from the app (versions and licences recorded), never from a CDN."""

import re
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent.parent.parent / "frontend"


def test_no_template_loads_anything_from_another_host():
    for template in (FRONTEND / "templates").rglob("*.html"):
        source = template.read_text()
        assert not re.search(r"""(src|href)=["'](https?:)?//(?!\{\{)""", source), template


def test_every_vendored_file_is_listed_with_its_version_and_licence():
    vendor = FRONTEND / "static" / "frontend" / "vendor"
    readme = (vendor / "README.md").read_text()
    for asset in vendor.glob("*.js"):
        assert f"`{asset.name}`" in readme
        assert "sourceMappingURL" not in asset.read_text()[-300:]
    assert "0BSD" in readme and "MIT" in readme


def test_every_page_names_its_icon_so_browsers_do_not_ask_for_a_missing_favicon_ico():
    from django.contrib.staticfiles import finders

    for template in ("frontend/base.html", "500.html"):
        source = next((FRONTEND / "templates").rglob(Path(template).name)).read_text()
        assert """<link rel="icon" href="{% static 'frontend/favicon.svg' %}" type="image/svg+xml">""" in source
    assert finders.find("frontend/favicon.svg")
