"""Careers as content: ``content/careers/<slug>.yaml`` checked, synced and served by the API."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from academy.catalog.models import Career
from academy.extensions import db
from tests.helpers.content import two_tracks, write_track

REPO = Path(__file__).resolve().parents[2]


def career_data(title="Data Career", **changes) -> dict:
    data = {
        "title": title,
        "summary": f"What a {title} does.",
        "median_salary_usd": 120000,
        "job_growth": "High: 30% projected growth through 2030",
        "experience_levels": "Entry to leadership",
        "salary_progression": [{"level": "Entry", "annual_usd": 90000},
                               {"level": "Senior", "annual_usd": 160000}],
        "typical_day": [{"title": "Stand-up", "text": "Plan the day with the team."}],
        "faq": [{"question": "Do I need a degree?", "answer": "No."}],
        "source": {"name": "A labour statistics survey", "date": "2026-03",
                   "url": "https://www.bls.gov/ooh/"},
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def write_career(content: Path, slug="data-career", **changes) -> Path:
    """``content/careers/<slug>.yaml``; a change of None leaves that field out."""
    path = content / "careers" / f"{slug}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(career_data(**changes), sort_keys=False))
    return path


@pytest.fixture
def content(tmp_path) -> Path:
    """``content/tracks`` with basics and advanced (career data-career), and its career file."""
    two_tracks(tmp_path / "tracks")
    write_career(tmp_path)
    return tmp_path


def run(cli, command, content: Path):
    return cli.invoke(args=["academy", "content", command, str(content / "tracks")])


# -- content check -----------------------------------------------------------------------------

def test_check_reads_the_careers_beside_the_tracks(cli, content):
    result = run(cli, "check", content)
    assert result.exit_code == 0, result.output
    assert "ok: 2 tracks, 5 lessons, 1 careers" in result.output


def test_missing_field_names_file_and_field(cli, content):
    write_career(content, median_salary_usd=None)
    result = run(cli, "check", content)
    assert result.exit_code == 1
    assert "careers/data-career.yaml: median_salary_usd: Missing data for required field" in result.stderr


def test_salary_figures_must_be_whole_dollars(cli, content):
    path = write_career(content, median_salary_usd="$120,000", salary_progression=[
        {"level": "Entry", "annual_usd": 90000}, {"level": "Senior", "annual_usd": "160k"}])
    line = path.read_text().splitlines().index("  annual_usd: 160k") + 1
    result = run(cli, "check", content)
    assert result.exit_code == 1
    assert "careers/data-career.yaml:3: median_salary_usd: Not a valid integer" in result.stderr
    assert f"careers/data-career.yaml:{line}: salary_progression.1.annual_usd: Not a valid integer" \
        in result.stderr


@pytest.mark.parametrize("field, value, message", [
    ("faq", [{"question": "Why?"}], "faq.0.answer: Missing data for required field"),
    ("typical_day", [], "typical_day: lists no moments of the day"),
    ("source", {"name": "Survey", "date": "March 2026"}, "source.date: must be a date as YYYY-MM"),
    ("job_growth", 40, "job_growth: Not a valid string"),
])
def test_wrong_shapes_are_named(cli, content, field, value, message):
    write_career(content, **{field: value})
    result = run(cli, "check", content)
    assert result.exit_code == 1
    assert message in result.stderr


def test_an_unquoted_yaml_date_is_a_date(cli, content):
    path = write_career(content)
    path.write_text(path.read_text().replace("date: '2026-03'", "date: 2026-03-01"))
    assert run(cli, "check", content).exit_code == 0


def test_track_naming_a_career_without_a_file(cli, content):
    write_track(content / "tracks", "extra", career="nowhere", position=1)
    result = run(cli, "check", content)
    assert result.exit_code == 1
    assert "tracks/extra/track.yaml: career: unknown career 'nowhere'" in result.stderr
    assert "careers/nowhere.yaml" in result.stderr


def test_career_file_name_must_be_a_slug(cli, content):
    write_career(content, slug="Data_Career")
    result = run(cli, "check", content)
    assert result.exit_code == 1
    assert "careers/Data_Career.yaml: slug: file name 'Data_Career' is not a valid slug" in result.stderr


def test_a_career_no_track_names_is_a_warning(cli, content):
    write_career(content, slug="lonely-career", title="Lonely")
    result = run(cli, "check", content)
    assert result.exit_code == 0
    assert "warning: " in result.stderr and "lonely-career.yaml: no track names this career" in result.stderr


def test_without_a_careers_directory_careers_are_left_alone(cli, ctx, content):
    assert run(cli, "sync", content).exit_code == 0
    (content / "careers" / "data-career.yaml").unlink()
    (content / "careers").rmdir()
    check = run(cli, "check", content)
    assert check.exit_code == 0 and "no careers directory" in check.output
    assert run(cli, "sync", content).output.strip() == "no changes"
    assert db.session.scalar(select(Career.retired_at)) is None


def test_the_shipped_content_passes(cli):
    tracks = REPO / "content" / "tracks"
    result = cli.invoke(args=["academy", "content", "check", str(tracks)])
    assert result.exit_code == 0, result.output
    assert (REPO / "content" / "careers" / "machine-learning-engineer.yaml").is_file()
    assert "0 careers" not in result.output and "no careers directory" not in result.output


# -- content sync ------------------------------------------------------------------------------

def test_sync_adds_changes_retires_and_restores_a_career(cli, ctx, content):
    write_career(content, slug="other-career", title="Other")
    first = run(cli, "sync", content)
    assert first.exit_code == 0, first.output
    assert "added    career data-career" in first.output
    assert "added    career other-career" in first.output
    added = db.session.scalar(select(Career).where(Career.slug == "data-career"))
    assert added.title == "Data Career" and added.facts["median_salary_usd"] == 120000
    old_hash = added.content_hash
    assert run(cli, "sync", content).output.strip().endswith("\nno changes")

    write_career(content, title="Data Career, revised", median_salary_usd=125000)
    (content / "careers" / "other-career.yaml").unlink()
    second = run(cli, "sync", content)
    assert second.exit_code == 0, second.output
    assert "changed  career data-career" in second.output
    assert "retired  career other-career" in second.output
    assert "0 added, 1 changed, 1 retired, 0 restored" in second.output

    db.session.expire_all()
    careers = {c.slug: c for c in db.session.scalars(select(Career))}
    assert careers["data-career"].content_hash != old_hash
    assert careers["data-career"].facts["median_salary_usd"] == 125000
    # Retired, not deleted.
    assert careers["other-career"].retired_at is not None

    write_career(content, slug="other-career", title="Other")
    assert "restored career other-career" in run(cli, "sync", content).output


def test_a_tree_with_problems_syncs_no_career(cli, ctx, content):
    write_career(content, faq=None)
    result = run(cli, "sync", content)
    assert result.exit_code == 1 and "nothing was changed" in result.output
    assert db.session.scalar(select(Career)) is None


# -- the API -----------------------------------------------------------------------------------

@pytest.fixture
def careers(cli, content):
    write_career(content, slug="other-career", title="Other")
    write_track(content / "tracks", "other-basics", career="other-career", position=1)
    result = run(cli, "sync", content)
    assert result.exit_code == 0, result.output
    return content


def test_list_careers(client, careers):
    response = client.get("/api/v1/careers")
    assert response.status_code == 200
    assert response.get_json() == {"total": 2, "items": [
        {"slug": "data-career", "title": "Data Career", "summary": "What a Data Career does.",
         "track_count": 2},
        {"slug": "other-career", "title": "Other", "summary": "What a Other does.", "track_count": 1},
    ]}
    page = client.get("/api/v1/careers?per_page=1&page=2").get_json()
    assert page["total"] == 2 and [c["slug"] for c in page["items"]] == ["other-career"]
    assert client.get("/api/v1/careers?per_page=0").status_code == 422


def test_career_detail_has_the_facts_and_the_tracks_as_listed(client, careers):
    response = client.get("/api/v1/careers/data-career")
    assert response.status_code == 200
    body = response.get_json()
    tracks = client.get("/api/v1/tracks?career=data-career").get_json()["items"]
    assert body == {"slug": "data-career", **career_data(), "tracks": tracks}
    assert [t["slug"] for t in body["tracks"]] == ["basics", "advanced"]


@pytest.mark.parametrize("slug", ["nowhere", "other-career"])
def test_unknown_or_retired_career_is_a_problem_404(client, cli, careers, slug):
    (careers / "careers" / "other-career.yaml").unlink()
    write_track(careers / "tracks", "other-basics", career="data-career", position=3)
    assert run(cli, "sync", careers).exit_code == 0
    response = client.get(f"/api/v1/careers/{slug}")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.get_json()["detail"] == f"There is no career {slug!r}."
    assert [c["slug"] for c in client.get("/api/v1/careers").get_json()["items"]] == ["data-career"]


def test_career_etag_changes_only_when_content_does(client, cli, careers):
    for path in ("/api/v1/careers", "/api/v1/careers/data-career"):
        etag = client.get(path).headers["ETag"]
        assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    etag = client.get("/api/v1/careers/data-career").headers["ETag"]
    run(cli, "sync", careers)
    assert client.get("/api/v1/careers/data-career", headers={"If-None-Match": etag}).status_code == 304
    write_career(careers, job_growth="Steady")
    run(cli, "sync", careers)
    changed = client.get("/api/v1/careers/data-career", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json()["job_growth"] == "Steady"


def test_the_openapi_document_describes_careers(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    detail = paths["/api/v1/careers/{slug}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert detail["schema"] == {"$ref": "#/components/schemas/CareerDetail"}
    assert "/api/v1/careers" in paths
