"""The request-type tests share their tables' plain data through tests/rights_cases.py."""

import pytest

# rights_cases holds asserts of these tests: rewrite them as in a test module.
pytest.register_assert_rewrite("rights_cases")
