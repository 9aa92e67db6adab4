"""The hypothesis profile CI runs under (tests/conftest.py): a failure there can be replayed anywhere.

Derandomised draws depend on the process (the project's modules it has imported, PROP_N), so a
developer's run need not draw CI's example; the line CI prints replays it exactly.
"""

import ast
import re

import pytest
from hypothesis import given, reproduce_failure, settings
from hypothesis import strategies as st


def test_a_ci_failure_prints_the_decorator_that_replays_it_in_any_run():
    # Given a property that fails, run under the CI profile
    @settings(settings.get_profile("ci"), max_examples=100)
    @given(st.integers(0, 10))
    def never_three(n):
        assert n != 3

    with pytest.raises(AssertionError) as failure:
        never_three()
    # Then the report names @reproduce_failure(version, blob)
    notes = "\n".join(getattr(failure.value, "__notes__", ()))
    found = re.search(r"@reproduce_failure\('([^']+)', (b'[^']*')\)", notes)
    assert found, notes
    # And that decorator replays the failing example in a run with other settings
    seen = []

    @reproduce_failure(found.group(1), ast.literal_eval(found.group(2)))
    @settings(database=None, max_examples=1000)
    @given(st.integers(0, 10))
    def again(n):
        seen.append(n)
        assert n != 3

    with pytest.raises(AssertionError):
        again()
    assert set(seen) == {3}
