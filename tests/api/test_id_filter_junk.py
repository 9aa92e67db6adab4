"""An id filter takes a whole number in digits; anything else "is 400 invalid naming it" (docs/api.md,
filters). A value holding "%" was a 500: rebalancing/filters.py put it into a message that django-filter
formats with % (django_filters.utils.raw_validation)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebalancing.api.urls import router
from rebalancing.filters import IdFilter

from .conftest import API, key_client

pytestmark = pytest.mark.django_db


def _id_filters() -> list[tuple[str, str]]:
    """(list path, filter name) of every IdFilter of every list endpoint the router serves."""
    found = []
    for prefix, viewset, _basename in router.registry:
        filterset = getattr(viewset, "filterset_class", None)
        if filterset is not None and hasattr(viewset, "list"):
            found += [(f"{prefix}/", name) for name, f in filterset.base_filters.items() if isinstance(f, IdFilter)]
    return sorted(found)


ID_FILTERS = _id_filters()


def _is_an_id(value: str) -> bool:
    """The rule, written plainly: ASCII digits (spaces around allowed), 1 to 2**62."""
    stripped = value.strip()
    return stripped.isascii() and stripped.isdigit() and 1 <= int(stripped) <= 2**62


def test_every_list_s_id_filters_are_found():
    assert {("accounts/", "household"), ("accounts/", "advisor"), ("proposals/", "run"), ("orders/", "proposal"),
            ("alerts/", "run"), ("household-proposals/", "run")} <= set(ID_FILTERS)


@pytest.mark.parametrize(("endpoint", "name"), [
    ("accounts/", "household"), ("accounts/", "advisor"), ("proposals/", "run"), ("proposals/", "account"),
    ("orders/", "proposal"), ("alerts/", "run"),
])
@pytest.mark.parametrize("value", ["%", "50%off", "%s", "%(x)s", "%d%%"])
def test_an_id_filter_holding_a_percent_sign_is_a_400_naming_it_not_a_server_error(
        firm_a, people, api_key, endpoint, name, value):
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))
    try:
        answer = client.get(f"{API}/{endpoint}", {name: value})
    except TypeError as exc:  # the test client re-raises what the server answered 500 for
        pytest.fail(f"GET {endpoint}?{name}={value} raised {exc!r} (500)")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "invalid" and list(body["detail"]["fields"]) == [name]
    assert repr(value) in body["detail"]["fields"][name][0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(ID_FILTERS),
       value=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                     min_size=1, max_size=12) | st.sampled_from(["%", "%%", "%s", "%(id)s", "1%", "0", "-1", "1.5"]))
def test_junk_in_any_id_filter_of_any_list_is_never_a_server_error(firm_a, people, api_key, which, value):
    endpoint, name = which
    client = key_client(firm_a, api_key(firm_a, people["pm"], scopes=["read"]))
    try:
        answer = client.get(f"{API}/{endpoint}", {name: value})
    except Exception as exc:  # the test client re-raises what the server answered 500 for
        pytest.fail(f"GET {endpoint}?{name}={value!r} raised {exc!r} (500)")
    if _is_an_id(value):
        assert answer.status_code == 200, answer.content
    else:
        assert answer.status_code == 400, (value, answer.content)
        body = answer.json()
        assert body["code"] == "invalid" and name in body["detail"]["fields"]
