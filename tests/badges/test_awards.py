"""Awarding badges, Open Badges documents, revocation and erasure (worker-independent parts)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from academy.badges.models import BadgeAward
from academy.learning import service as learning
from tests.helpers.badges import ADVANCED, finish
from tests.helpers.broker import purge, queued
from tests.helpers.clients import signed_in
from tests.helpers.factories import PASSWORD

BASE = "http://academy.test"


def local(url: str) -> str:
    assert url.startswith(BASE + "/"), url
    return urlsplit(url).path


def test_completion_enqueues_the_award_only_after_commit(app, catalog, database):
    learner = signed_in(app)
    finish(learner, lessons=["intro", "numbers"])
    purge(app)
    with app.test_request_context(method="PUT"):
        learning.complete_lesson(learner.user_id, "basics", "plots")
        from academy.extensions import db

        db.session.rollback()
    assert queued(app) == 0  # a rolled-back completion publishes nothing
    learner.complete("basics", "plots")
    assert queued(app) == 1  # the committed one publishes exactly one award
    purge(app)


def test_reconcile_awards_what_is_due_once(app, catalog, reconcile, database):
    learner = signed_in(app)
    finish(learner)
    purge(app)  # the award message is lost
    assert learner.get("/api/v1/me/badges").get_json()["total"] == 0
    assert "1 badge(s) awarded" in reconcile()
    assert "0 badge(s) awarded" in reconcile()
    badges = learner.get("/api/v1/me/badges").get_json()
    assert badges["total"] == 1
    item = badges["items"][0]
    assert item["badge"] == {"slug": "basics", "name": "basics badge", "description": "A badge."}
    assert item["revoked"] is False and item["issued_at"].endswith("Z")
    assert item["url"] == f"{BASE}/badges/{item['id']}"


def test_assertion_is_a_complete_open_badges_document(app, catalog, reconcile):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    reconcile()
    url = learner.get("/api/v1/me/badges").get_json()["items"][0]["url"]
    client = app.test_client()
    response = client.get(local(url), headers={"Accept": "application/ld+json"})
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    doc = response.get_json()
    assert doc["@context"] == "https://w3id.org/openbadges/v2"
    assert doc["type"] == "Assertion" and doc["id"] == url
    assert doc["verification"] == {"type": "hosted"}
    assert doc["issuedOn"].endswith("Z")
    recipient = doc["recipient"]
    assert recipient["type"] == "email" and recipient["hashed"] is True
    import hashlib

    expected = "sha256$" + hashlib.sha256((learner.email + recipient["salt"]).encode()).hexdigest()
    assert recipient["identity"] == expected

    badge = client.get(local(doc["badge"])).get_json()
    assert badge["type"] == "BadgeClass" and badge["id"] == doc["badge"]
    assert {"name", "description", "image", "criteria", "issuer"} <= set(badge)
    assert badge["criteria"]["narrative"] == "Completed every lesson."
    image = client.get(local(badge["image"]))
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert b"basics badge" in image.data
    issuer = client.get(local(badge["issuer"])).get_json()
    assert issuer["type"] == "Profile" and issuer["id"] == badge["issuer"]
    assert issuer["name"] and issuer["url"] == BASE


def test_share_page_has_open_graph_and_linkedin(app, catalog, reconcile):
    learner = signed_in(app, display_name="Grace Hopper")
    finish(learner)
    purge(app)
    reconcile()
    url = learner.get("/api/v1/me/badges").get_json()["items"][0]["url"]
    page = app.test_client().get(local(url), headers={"Accept": "text/html"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'property="og:title" content="Grace Hopper earned basics badge"' in html
    assert f'property="og:url" content="{url}"' in html
    assert "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME" in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_career_badge_after_every_track(app, catalog, reconcile):
    learner = signed_in(app)
    finish(learner)
    finish(learner, "advanced", ADVANCED)
    purge(app)
    reconcile()
    slugs = {b["badge"]["slug"] for b in learner.get("/api/v1/me/badges").get_json()["items"]}
    assert slugs == {"basics", "advanced", "data-career-career"}


def test_no_career_badge_for_part_of_a_career(app, catalog, reconcile):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    reconcile()
    slugs = {b["badge"]["slug"] for b in learner.get("/api/v1/me/badges").get_json()["items"]}
    assert slugs == {"basics"}


def test_revoked_badge_answers_410(app, catalog, reconcile):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    reconcile()
    award_id = learner.get("/api/v1/me/badges").get_json()["items"][0]["id"]
    assert learner.post(f"/api/v1/admin/badges/{award_id}/revoke", json={"reason": "x"}).status_code == 403
    admin = signed_in(app, is_admin=True)
    response = admin.post(f"/api/v1/admin/badges/{award_id}/revoke", json={"reason": "Plagiarised work"})
    assert response.status_code == 200 and response.get_json()["revoked"] is True
    gone = app.test_client().get(f"/badges/{award_id}", headers={"Accept": "application/ld+json"})
    assert gone.status_code == 410
    assert gone.get_json() == {"revoked": True, "revocationReason": "Plagiarised work"}
    # A browser that follows a shared link reads a page saying so, still a 410.
    page = app.test_client().get(f"/badges/{award_id}", headers={"Accept": "text/html"})
    assert page.status_code == 410 and page.mimetype == "text/html"
    assert "no longer valid" in page.get_data(as_text=True)
    assert "Plagiarised work" in page.get_data(as_text=True)
    assert learner.get("/api/v1/me/badges").get_json()["items"][0]["revoked"] is True


def test_erased_account_badges_answer_410(app, catalog, reconcile, database):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    reconcile()
    award_id = learner.get("/api/v1/me/badges").get_json()["items"][0]["id"]
    assert learner.delete("/api/v1/me", json={"password": PASSWORD}).status_code == 204
    gone = app.test_client().get(f"/badges/{award_id}", headers={"Accept": "application/json"})
    assert gone.status_code == 410 and gone.get_json()["revoked"] is True
    with database() as session:
        award = session.scalar(select(BadgeAward))
        assert award.recipient_identity == ""
    # Erased learners are not awarded again by the reconciler.
    assert "0 badge(s) awarded" in reconcile()


@pytest.mark.parametrize("path", ["/badges/nope", "/badges/classes/nope", "/badges/classes/nope/image.svg"])
def test_unknown_badges_are_404(client, path):
    assert client.get(path).status_code == 404


def test_awarding_twice_awards_once(app, catalog, database):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    from academy.badges.tasks import award_for_enrollment

    with database() as session:
        from academy.learning.models import Enrollment

        enrollment_id = session.scalar(select(Enrollment.id))
    award_for_enrollment.apply(args=[enrollment_id])
    award_for_enrollment.apply(args=[enrollment_id])
    with database() as session:
        assert session.scalar(select(func.count()).select_from(BadgeAward)) == 1


def test_an_award_writes_one_badge_mail_with_unsubscribe(app, catalog, reconcile, database):
    from academy.notifications.models import OutboxMessage

    learner = signed_in(app)
    finish(learner)
    purge(app)
    reconcile()
    reconcile()
    with database() as session:
        mails = session.scalars(select(OutboxMessage).where(OutboxMessage.template == "badge_earned")).all()
        assert len(mails) == 1
        mail = mails[0]
        assert mail.to_address == learner.email
        assert mail.subject == "New badge: basics badge"
        assert mail.headers["List-Unsubscribe"].startswith(f"<{BASE}/unsubscribe/")
        assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "Advanced" in mail.text_body  # suggests the career's next track


def test_no_badge_mail_when_badge_emails_are_off(app, catalog, reconcile, database):
    from academy.notifications.models import OutboxMessage

    learner = signed_in(app)
    learner.patch("/api/v1/me", json={"email_preferences": {"badges": False}})
    finish(learner)
    purge(app)
    reconcile()
    assert learner.get("/api/v1/me/badges").get_json()["total"] == 1  # the badge, without the mail
    with database() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.category == "badge")) == 0
