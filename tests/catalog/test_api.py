"""The public catalog API: listing, detail, lessons, errors, ETags, sanitising."""
from __future__ import annotations

import pytest

from tests.helpers.content import write_lesson


def test_list_tracks(client, catalog):
    response = client.get("/api/v1/tracks")
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first == {
        "slug": "basics", "title": "Basics", "summary": "Summary of basics.",
        "career": "data-career", "position": 1, "lesson_count": 3,
        "estimated_minutes": 10 + 11 + 12, "estimated_project_hours": 0.0, "prerequisites": [],
        "badge": {"slug": "basics", "name": "basics badge"},
    }
    assert body["items"][1]["prerequisites"] == ["basics"]


def test_list_tracks_filters_and_pages(client, catalog):
    assert client.get("/api/v1/tracks?career=other").get_json() == {"items": [], "total": 0}
    page = client.get("/api/v1/tracks?per_page=1&page=2").get_json()
    assert page["total"] == 2 and [t["slug"] for t in page["items"]] == ["advanced"]


def test_bad_paging_is_a_422_naming_the_field(client, catalog):
    response = client.get("/api/v1/tracks?per_page=1000")
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert "per_page" in response.get_json()["errors"]


def test_track_detail_lists_current_lessons_in_order(client, catalog):
    body = client.get("/api/v1/tracks/basics").get_json()
    assert [(lesson["slug"], lesson["position"]) for lesson in body["lessons"]] == [
        ("intro", 1), ("numbers", 2), ("plots", 3)]
    assert body["lesson_count"] == 3


def test_lesson_detail(client, catalog):
    body = client.get("/api/v1/tracks/basics/lessons/numbers").get_json()
    assert body["title"] == "Lesson numbers"
    assert body["minutes"] == 11
    assert body["body_html"].startswith("<h2>What you will learn</h2>")
    assert body["resources"][0] == {"title": "Python docs", "url": "https://docs.python.org/3/"}


@pytest.mark.parametrize("path", ["/api/v1/tracks/nope", "/api/v1/tracks/basics/lessons/nope",
                                  "/api/v1/tracks/advanced/lessons/intro", "/api/v1/nothing-here"])
def test_unknown_things_are_problem_404s(client, catalog, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404 and body["title"] == "Not Found" and body["detail"]


def test_wrong_method_is_a_problem_405(client, catalog):
    response = client.delete("/api/v1/tracks/basics")
    assert response.status_code == 405
    assert response.content_type == "application/problem+json"
    assert "GET" in response.headers["Allow"]


def test_etag_round_trip_changes_only_when_content_does(client, cli, catalog):
    first = client.get("/api/v1/tracks/basics")
    etag = first.headers["ETag"]
    assert etag
    again = client.get("/api/v1/tracks/basics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    # A sync with no change keeps the ETag.
    cli.invoke(args=["academy", "content", "sync", str(catalog)])
    assert client.get("/api/v1/tracks/basics", headers={"If-None-Match": etag}).status_code == 304
    # A changed lesson changes it.
    write_lesson(catalog / "basics", "plots", title="Plots, better", minutes=40)
    cli.invoke(args=["academy", "content", "sync", str(catalog)])
    changed = client.get("/api/v1/tracks/basics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    for path in ("/api/v1/tracks", "/api/v1/tracks/basics/lessons/intro"):
        tag = client.get(path).headers["ETag"]
        assert client.get(path, headers={"If-None-Match": tag}).status_code == 304


def test_scripts_and_javascript_links_never_reach_a_client(client, cli, catalog):
    body = (
        "## Hello\n\n<script>alert('x')</script>\n\n"
        "[click](javascript:alert(1)) and [ok](https://pytorch.org/)\n\n"
        "<img src=x onerror=alert(1)>\n\n"
        "<a href=\"javascript:alert(2)\">raw</a>\n"
    )
    write_lesson(catalog / "basics", "intro", body=body)
    assert cli.invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    html = client.get("/api/v1/tracks/basics/lessons/intro").get_json()["body_html"]
    elements = _elements(html)
    assert "script" not in {tag for tag, _ in elements}
    assert "img" not in {tag for tag, _ in elements}
    for _, attrs in elements:
        assert not any(name.startswith("on") for name in attrs)
        assert not (attrs.get("href") or "").lower().startswith("javascript")
    assert ("a", {"href": "https://pytorch.org/", "rel": "noopener noreferrer nofollow"}) in elements


def _elements(html: str) -> list[tuple[str, dict]]:
    """Every element a browser would build from ``html``, with its attributes."""
    from html.parser import HTMLParser

    found = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found
