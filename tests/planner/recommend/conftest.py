"""The fake Hub fixture (tests/fakehub.py) for Hub models added to a comparison."""

from tests.planner.hub.conftest import hub  # noqa: F401
