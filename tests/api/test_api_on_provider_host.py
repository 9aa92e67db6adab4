"""The API answers on each firm's own host; on the provider's, an integration gets the API's JSON
error body saying where it is (it got the console's HTML "not found" page)."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/accounts/", "/api/v1/", "/api/"])
def test_the_api_on_the_providers_host_is_a_json_404_saying_where_it_is(path):
    response = Client(HTTP_HOST="localhost").get(path, HTTP_AUTHORIZATION="Bearer rk_abc_def")

    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found" and body["detail"] == {"path": path}
    assert body["message"] == ("The API is served on each firm's own host (http://<firm>.localhost/api/v1/), not on "
                               "the provider's.")
