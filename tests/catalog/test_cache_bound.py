"""The catalog cache stays bounded whatever the query strings, and its answers stay right.

Anyone may send ``GET /api/v1/tracks?career=<anything>&page=&per_page=`` unauthenticated: a
cache entry per distinct URL grew each web worker by a hundred MiB until the next content sync.
"""
from __future__ import annotations

import pytest

from academy.catalog import service
from tests.helpers.content import write_track

N = 2_000


def _entries(app) -> int:
    with app.app_context():
        return service.cache_size()


def _slugs(client, query: str) -> list[str]:
    response = client.get(f"/api/v1/tracks{query}")
    assert response.status_code == 200
    return [item["slug"] for item in response.get_json()["items"]]


def test_unknown_careers_and_pages_past_the_end_are_answered_without_an_entry(app, client, catalog):
    for path in ("/api/v1/tracks", "/api/v1/careers", "/api/v1/tracks?career=data-career",
                 "/api/v1/tracks?career=warm-up"):
        assert client.get(path).status_code == 200
    before = _entries(app)
    for n in range(N):
        assert client.get(f"/api/v1/tracks?career=unknown-{n}").get_json() == {"items": [], "total": 0}
    for n in range(N):
        # Two tracks: page 3 and later of one per page list nothing.
        body = client.get(f"/api/v1/tracks?per_page=1&page={3 + n}").get_json()
        assert body == {"items": [], "total": 2}
    for n in range(50):
        assert client.get(f"/api/v1/careers?page={2 + n}").get_json()["items"] == []
    assert _entries(app) == before
    assert _slugs(client, "?career=data-career") == ["basics", "advanced"]


def test_the_cache_never_holds_more_than_its_bound_and_stays_right(app, client, catalog, cli,
                                                                   monkeypatch):
    monkeypatch.setattr(service, "CACHE_MAX_ENTRIES", 50)
    seen = 0
    for career in ("", "data-career"):
        for per_page in range(1, 101):
            for page in range(1, 11):
                body = client.get(f"/api/v1/tracks?career={career}&per_page={per_page}"
                                  f"&page={page}").get_json()
                expected = ["basics", "advanced"][(page - 1) * per_page:page * per_page]
                assert [item["slug"] for item in body["items"]] == expected
                assert body["total"] == 2
                seen += 1
                assert _entries(app) <= 50
    assert seen == N
    # Still right after evictions, and a sync's new content shows at once.
    assert _slugs(client, "?career=data-career") == ["basics", "advanced"]
    assert client.get("/api/v1/tracks/basics").get_json()["lesson_count"] == 3
    write_track(catalog, "extra", ["one"], position=3)
    write_track(catalog, "elsewhere", ["one"], career="other-career")
    assert cli.invoke(args=["academy", "content", "sync", str(catalog)]).exit_code == 0
    assert _slugs(client, "?career=data-career") == ["basics", "advanced", "extra"]
    assert _slugs(client, "?career=other-career") == ["elsewhere"]
    assert _entries(app) <= 50


@pytest.mark.parametrize("path", ["/api/v1/tracks/nope", "/api/v1/tracks/basics/lessons/nope",
                                  "/api/v1/careers/nope", "/tracks/nope", "/tracks/basics/nope",
                                  "/careers/nope"])
def test_not_found_answers_keep_no_entry(app, client, catalog, path):
    for known in ("/api/v1/tracks", "/tracks/basics"):  # a lesson page reads its track's
        assert client.get(known).status_code == 200
    before = _entries(app)
    for n in range(20):
        assert client.get(f"{path}-{n}").status_code == 404
    assert _entries(app) == before
