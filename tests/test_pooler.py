"""Behind a transaction-mode pooler nothing lives on a server connection between transactions.

The whole suite runs a second time through PgBouncer in transaction mode (``.ci/run``); these
tests pin down the settings that make that pass, on whatever server the suite is given.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from academy import config
from tests.helpers.services import TEST_DATABASE_URL, needs_postgres

URL = "postgresql+psycopg://db/academy"


def _options(tmp_path, **environ):
    return config.load(tmp_path, {"ACADEMY_DATABASE_URL": URL, **environ})["SQLALCHEMY_ENGINE_OPTIONS"]


def test_pool_sizes_come_from_the_environment(tmp_path):
    assert _options(tmp_path)["pool_size"] == 5 and _options(tmp_path)["max_overflow"] == 10
    options = _options(tmp_path, ACADEMY_DATABASE_POOL_SIZE="2", ACADEMY_DATABASE_MAX_OVERFLOW="0")
    assert (options["pool_size"], options["max_overflow"]) == (2, 0)


@pytest.mark.parametrize(("name", "value"), [
    ("ACADEMY_DATABASE_POOLER", "session"), ("ACADEMY_DATABASE_POOL_SIZE", "0"),
    ("ACADEMY_DATABASE_MAX_OVERFLOW", "-1"), ("ACADEMY_DATABASE_POOL_SIZE", "five"),
])
def test_a_bad_pool_setting_is_refused_by_name(tmp_path, name, value):
    with pytest.raises(config.ConfigError, match=name):
        _options(tmp_path, **{name: value})


def _prepared_after_repeats(options: dict) -> int:
    """Run one statement ten times in one transaction, then count the server's prepared ones."""
    options = {k: v for k, v in options.items() if k not in ("pool_size", "max_overflow")}
    engine = create_engine(TEST_DATABASE_URL, **options)
    try:
        with engine.begin() as conn:
            for _ in range(10):
                conn.execute(text("SELECT 1 WHERE 1 = :one"), {"one": 1})
            return conn.scalar(text("SELECT count(*) FROM pg_prepared_statements"))
    finally:
        engine.dispose()


@needs_postgres
def test_behind_a_transaction_pooler_no_statement_is_prepared_on_the_server(tmp_path):
    """psycopg prepares a statement after five runs; behind PgBouncer the next transaction may
    run on another server connection, which lacks it (or has another of the same name)."""
    pooled = config.load(tmp_path, {"ACADEMY_DATABASE_URL": TEST_DATABASE_URL,
                                    "ACADEMY_DATABASE_POOLER": "transaction"})
    assert _prepared_after_repeats(pooled["SQLALCHEMY_ENGINE_OPTIONS"]) == 0


@needs_postgres
@pytest.mark.skipif(os.environ.get("ACADEMY_DATABASE_POOLER") == "transaction",
                    reason="behind the pooled pass's PgBouncer the statement it prepares would "
                           "stay on a shared server connection and break the next client: the "
                           "very bug; it runs in the direct pass")
def test_without_a_pooler_psycopg_keeps_preparing_statements(tmp_path):
    """The other side of the test above: the setting is what stops it, not the statement."""
    direct = config.load(tmp_path, {"ACADEMY_DATABASE_URL": TEST_DATABASE_URL,
                                    "ACADEMY_DATABASE_POOLER": "none"})
    assert _prepared_after_repeats(direct["SQLALCHEMY_ENGINE_OPTIONS"]) >= 1
