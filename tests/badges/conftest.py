"""Fixtures for badge tests; finishing tracks lives in tests/helpers/badges.py."""
from __future__ import annotations

import pytest


@pytest.fixture
def reconcile(app):
    def run():
        result = app.test_cli_runner().invoke(args=["academy", "badges", "reconcile"])
        assert result.exit_code == 0, result.output
        return result.output
    return run
