"""A badge with project evidence passes 1EdTech's own Open Badges 2.0 verifier.

The verifier (``openbadges`` on PyPI, from 1EdTech) pins libraries far older than ours, so it
lives in a virtualenv of its own: ``.ci/run`` makes it and names its Python in
``ACADEMY_TEST_OB_VERIFIER``. It fetches the assertion, badge class and issuer over HTTP from
a real server on a local port, as a relying party would.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.helpers.clients import signed_in
from tests.helpers.content import checked_track, two_tracks
from tests.helpers.mail import free_port

VERIFIER = os.environ.get("ACADEMY_TEST_OB_VERIFIER")
REQUIRED = os.environ.get("ACADEMY_TEST_REQUIRE_OB_VERIFIER") == "1"
pytestmark = pytest.mark.skipif(
    not VERIFIER and not REQUIRED,
    reason="needs 1EdTech's openbadges verifier: set ACADEMY_TEST_OB_VERIFIER to the Python of "
           "a virtualenv with openbadges==1.1.2 installed (.ci/run does)")

RIGHT = {"metric": ["b"], "leaks": ["a", "c"]}
REPO = "https://github.com/ada/fraud-model"


@pytest.fixture
def served(app_factory, tmp_path):
    port = free_port()
    app = app_factory(BASE_URL=f"http://127.0.0.1:{port}")
    root = two_tracks(tmp_path / "content")
    checked_track(root)
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(root)])
    assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()


def test_a_badge_with_evidence_passes_the_1edtech_verifier(served):
    assert VERIFIER, "ACADEMY_TEST_REQUIRE_OB_VERIFIER=1 but no ACADEMY_TEST_OB_VERIFIER"
    learner = signed_in(served)
    learner.enroll("projects")
    base = "/api/v1/enrollments/projects/lessons"
    assert learner.post(f"{base}/quiz/attempts", json={"answers": RIGHT}).get_json()["passed"]
    assert learner.post(f"{base}/build/evidence",
                        json={"url": REPO, "note": "Scores 1M rows nightly."}).status_code == 200
    assert learner.complete("projects", "notes").get_json()["status"] == "completed"
    with served.app_context():
        from academy.badges.service import reconcile
        from academy.extensions import db

        reconcile()
        db.session.commit()
    badge = next(b for b in learner.get("/api/v1/me/badges").get_json()["items"]
                 if b["badge"]["slug"] == "projects")
    out = subprocess.run([VERIFIER, str(Path(__file__).with_name("ob2_verify.py")), badge["url"],
                          learner.email],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    errors = [m for m in report["report"]["messages"] if m["messageLevel"] == "ERROR"]
    assert report["report"]["valid"] is True, errors
    assert not errors, errors
    # The verifier's own reading of the assertion holds the evidence, checked and kept.
    nodes = report["graph"]
    assertion = next(n for n in nodes if n.get("type") == "Assertion")
    evidence = assertion["evidence"]
    evidence = evidence if isinstance(evidence, list) else [evidence]
    ids = {item if isinstance(item, str) else item["id"] for item in evidence}
    assert REPO in ids, assertion
    embedded = [n for n in nodes if n.get("id") == REPO] + [
        item for item in evidence if isinstance(item, dict)]
    assert any(n.get("narrative") == "Scores 1M rows nightly." for n in embedded), nodes
