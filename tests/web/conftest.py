"""Fixtures of the page tests: a small career of two tracks, synced."""
from __future__ import annotations

import pytest
import yaml

from tests.helpers.content import two_tracks

CAREER = {
    "title": "Data Career", "summary": "Work with data.", "median_salary_usd": 100000,
    "job_growth": "10% from 2024 to 2034", "experience_levels": "Entry to senior",
    "salary_progression": [{"level": "Junior", "annual_usd": 80000}],
    "typical_day": [{"title": "Morning", "text": "Read the dashboards."}],
    "faq": [{"question": "Do I need a degree?", "answer": "No."}],
    "source": {"name": "A survey", "date": "2026-11"},
}


@pytest.fixture
def site(app, tmp_path):
    """Two tracks of the ``data-career`` career, and its career file, synced."""
    root = two_tracks(tmp_path / "content" / "tracks")
    (tmp_path / "content" / "careers").mkdir()
    (tmp_path / "content" / "careers" / "data-career.yaml").write_text(yaml.safe_dump(CAREER))
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(root)])
    assert result.exit_code == 0, result.output
    return root
