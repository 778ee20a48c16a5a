"""The real servers the suite runs against, and the settings every test app and process gets."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

TEST_DATABASE_URL = os.environ.get("ACADEMY_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("ACADEMY_TEST_REDIS_URL")
ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"
TEST_BASE_URL = "http://academy.test"

needs_postgres = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="needs PostgreSQL: set ACADEMY_TEST_DATABASE_URL (CI does)",
)
needs_redis = pytest.mark.skipif(
    not TEST_REDIS_URL, reason="needs Redis: set ACADEMY_TEST_REDIS_URL (CI does)"
)


def academy_environ(database_url: str, **extra: str) -> dict[str, str]:
    """The process environment plus the ``ACADEMY_*`` settings of a test app on ``database_url``."""
    return {
        **os.environ,
        "ACADEMY_SECRET_KEY": TEST_SECRET_KEY,
        "ACADEMY_DATABASE_URL": database_url,
        "ACADEMY_BASE_URL": TEST_BASE_URL,
        **extra,
    }


def wait_until(predicate, timeout: float = 15, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
