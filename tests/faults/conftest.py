"""Fault injection fixtures: real worker, beat and Redis processes, an SMTP sink, deadlines, and
figures; the classes behind them live in tests/helpers/faults.py.

Every process a test starts is killed in the ``procs`` fixture's teardown, pass or fail.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.helpers.faults import REPORT_ENV, Deadline, Procs, SmtpSinks, update_report
from tests.helpers.services import TEST_DATABASE_URL, TEST_REDIS_URL

# -- marker, deadline, services ------------------------------------------------------------

def pytest_collection_modifyitems(config, items):
    """Everything under tests/faults carries the ``faults`` marker (``-m faults`` selects it)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents and item.get_closest_marker("faults") is None:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(autouse=True)
def _deadline(request):
    """``@pytest.mark.faults(timeout=s)``: a hard time limit without pytest-timeout. SIGALRM
    raises in the test, and the fixtures' teardowns (which kill every process) still run."""
    marker = request.node.get_closest_marker("faults")
    limit = marker.kwargs.get("timeout") if marker else None
    if limit is None:
        yield
        return

    def expire(signum, frame):
        raise Deadline(f"{request.node.nodeid} ran past its {limit:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def services(app):
    """Skip unless the suite runs against PostgreSQL and Redis, as every fault here needs both;
    empties the test Redis database before and after."""
    if not (TEST_DATABASE_URL or "").startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set ACADEMY_TEST_DATABASE_URL (CI does)")
    if not TEST_REDIS_URL:
        pytest.skip("needs Redis: set ACADEMY_TEST_REDIS_URL (CI does)")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield
    client.flushdb()
    client.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    path = os.environ.get(REPORT_ENV)
    if path and report.when == "setup":
        update_report(path, item.nodeid, None)  # a fresh entry for this run of the test
    if path and (report.when == "call" or report.outcome != "passed"):
        status = "xfailed" if hasattr(report, "wasxfail") and report.skipped else report.outcome
        update_report(path, item.nodeid, {"outcome": status, "seconds": round(report.duration, 1),
                                        **({"longrepr": str(report.longrepr)[-1500:]}
                                           if report.failed else {})})


@pytest.fixture
def procs(services, database_url, request):
    manager = Procs(database_url, request)
    yield manager
    manager.close()


@pytest.fixture
def smtp_sink():
    sinks = SmtpSinks()
    yield sinks
    sinks.close()


# -- figures for RELIABILITY.md ------------------------------------------------------------

@pytest.fixture
def record(request):
    """``record(mails=500, duplicates=3)``: figures the report writes into RELIABILITY.md."""
    figures: dict = {}

    def put(**values):
        figures.update(values)
        path = os.environ.get(REPORT_ENV)
        if path:
            update_report(path, request.node.nodeid, {"figures": figures})

    return put
