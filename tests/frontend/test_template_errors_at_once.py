"""The template page says every setting it refuses in one save, not one per save: an ESG score
above 100 (the form cannot take it) hid a cash floor above the target (the engine refuses it) until
the next save; two settings the engine refuses were said one at a time too."""

import html
import re

import pytest
from django_tenants.utils import tenant_context

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(response.content.decode()))


def test_an_unreadable_setting_and_a_refused_one_are_said_together(book, as_user, firm_a):
    template = book["template"]
    before = dict(template.parameters)
    response = as_user("admin").post(f"/templates/{template.pk}/", {
        "name": template.name, "p__screen__min_esg_score": "150", "p__cash__target": "2", "p__cash__floor": "5"})

    assert response.status_code == 400
    page = text(response)
    assert "at most 100" in page
    assert "must not be above “Cash: target”" in page
    with tenant_context(firm_a):
        template.refresh_from_db()
        assert template.parameters == before


def test_a_setting_that_could_not_be_read_is_checked_at_its_stored_value(book, as_user):
    """A cash target typed as words: the floor is checked against the stored target, not blamed for it."""
    template = book["template"]
    page = text(as_user("admin").post(f"/templates/{template.pk}/", {
        "name": template.name, "p__cash__target": "lots", "p__cash__floor": "1"}))
    assert "“lots” is not a number" in page
    assert "must not be above" not in page


def test_two_settings_the_engine_refuses_are_said_together(book, as_user):
    template = book["template"]
    page = text(as_user("admin").post(f"/templates/{template.pk}/", {
        "name": template.name, "p__cash__target": "2", "p__cash__floor": "5", "p__harvest__enabled": "yes",
        "p__harvest__substitutes": "VTI = VTI"}))
    assert "must not be above “Cash: target”" in page
    assert ("The template was not saved: see “Year-round loss harvesting: substitutes” and “Cash: floor” below."
            in page)
    assert "names VTI as its own substitute" in page
