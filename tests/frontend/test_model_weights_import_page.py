"""The Import page's model weights file: a firm admin (who imports and manages models) uploads a
model's weights and is told per model which version was written; a bad file is refused whole with
its line/column table; a portfolio manager (no model management) and an advisor are refused."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from rebalancing.models import ModelPortfolio, Proposal

pytestmark = pytest.mark.django_db

HEADER = b"model,asset_class,sleeve_weight,symbol,weight\n"
NEW_WEIGHTS = HEADER + (b"balanced,us_equity,50,VTI,70\nbalanced,us_equity,50,XLE,30\n"
                        b"balanced,bonds,40,BND,100\nbalanced,real_estate,10,VNQ,100\n")


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def upload(client, data: bytes, name: str = "models.csv"):
    return client.post("/import/", {"kind": "model_weights", "file": SimpleUploadedFile(name, data, "text/csv")})


def versions(firm) -> int:
    with tenant_context(firm):
        return ModelPortfolio.objects.get(code="balanced").versions.count()


def test_a_firm_admin_uploads_model_weights_and_is_told_the_version_written(firm_a, book, as_user):
    client = as_user("admin")
    page = text(client.get("/import/"))
    assert 'value="model_weights"' in page
    assert ("<code>model</code>, <code>asset_class</code>, <code>sleeve_weight</code>, <code>symbol</code>, "
            "<code>weight</code>") in page
    with tenant_context(firm_a):
        open_before = Proposal.objects.filter(status=Proposal.Status.PENDING).count()
    assert open_before

    response = upload(client, NEW_WEIGHTS)

    page = text(response)
    assert response.status_code == 200 and "Imported models.csv" in page
    assert "Versions written</dt><dd>1</dd>" in page.replace("> <", "><")
    assert "Model “Balanced” (balanced): version 2 written; the next run uses it." in page
    assert f"{open_before} open proposals made under the settings before were superseded" in page
    assert versions(firm_a) == 2
    with tenant_context(firm_a):
        latest = ModelPortfolio.objects.get(code="balanced").current_version
        assert latest.note == "imported from models.csv"
        assert {s.asset_class: s.weight * 100 for s in latest.sleeves.all()} == {
            "us_equity": 50, "bonds": 40, "real_estate": 10}

    again = text(upload(client, NEW_WEIGHTS))
    assert "(balanced): nothing changed - the file's sleeves are those of version 2" in again
    assert versions(firm_a) == 2


def test_a_bad_model_weights_file_is_refused_whole_with_its_lines(firm_a, book, as_user):
    bad = HEADER + (b"balanced,us_equity,50,VTI,70\nbalanced,us_equity,50,XLE,20\n"
                    b"balanced,bonds,40,BND,100\nbalanced,real_estate,10,NOPE,100\n")
    response = upload(as_user("admin"), bad)
    page = text(response)
    assert response.status_code == 400 and "The file was refused; nothing was written" in page
    assert '<td class="num">2</td><td><code>weight</code></td>' in page
    assert "the holdings of sleeve us_equity of model balanced sum to 90%" in page
    assert '<td class="num">5</td><td><code>symbol</code></td>' in page
    assert versions(firm_a) == 1


def test_a_portfolio_manager_imports_files_but_not_model_weights(firm_a, book, as_user):
    client = as_user("pm")
    page = text(client.get("/import/"))
    assert 'value="securities"' in page and 'value="model_weights"' not in page  # models are the firm admin's
    assert upload(client, NEW_WEIGHTS).status_code == 403
    assert versions(firm_a) == 1


def test_an_advisor_gets_403(firm_a, book, as_user):
    client = as_user("advisor")
    assert client.get("/import/").status_code == 403
    assert upload(client, NEW_WEIGHTS).status_code == 403
    assert versions(firm_a) == 1
