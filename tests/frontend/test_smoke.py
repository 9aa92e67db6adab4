import pytest

pytestmark = pytest.mark.django_db


def test_every_page_renders_for_the_firm_admin(book, as_user):
    client = as_user("admin")
    proposal = book["accounts"][0].proposals.first()
    for url in ["/", "/accounts/", f"/accounts/{book['accounts'][0].pk}/", f"/proposals/{proposal.pk}/",
                "/models/", f"/models/{book['model'].pk}/", "/models/new/", "/templates/",
                f"/templates/{book['template'].pk}/", "/templates/new/", "/runs/", f"/runs/{book['run'].pk}/",
                "/audit/"]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:2000])


@pytest.mark.parametrize("who", ["admin", "pm", "advisor", "compliance"])
def test_the_dashboard_renders_for_every_role(book, as_user, who):
    response = as_user(who).get("/")
    assert response.status_code == 200
