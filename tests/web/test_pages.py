"""The learner's pages through the Flask client: forms POST, redirect, GET, with JavaScript off.

A learner signs up, confirms the address from the mail, enrolls from the career page, completes
every lesson and sees the track done and the badge on the dashboard, using only links and
forms the pages show. Then the rules: sign-in required pages, ``next`` never leaving the site,
CSRF on every form, errors beside their fields with the typed values kept.
"""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from tests.helpers.factories import PASSWORD, make_user
from tests.helpers.mail import outbox
from tests.helpers.sql import statements


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def links(html: str) -> dict[str, str]:
    """Each link's text (tags stripped) → its href."""
    found = {}
    for href, inner in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, re.S):
        found[" ".join(re.sub(r"<[^>]+>", " ", inner).split())] = unescape(href)
    return found


def submit(client, page_html: str, action: str, **fields):
    """POST a form of the page as a browser would: its CSRF token and the typed fields."""
    return client.post(action, data={"csrf_token": csrf_of(page_html), **fields})


def test_a_new_learner_goes_from_sign_up_to_a_badge_by_links_and_forms(app, site, client):
    home = client.get("/")
    assert home.status_code == 200 and "Data Career" in text(home)
    signup = client.get(links(text(home))["Create account"])
    assert 'for="timezone"' in text(signup)
    created = submit(client, text(signup), "/signup", email="ada@example.org", password=PASSWORD,
                     display_name="Ada", timezone="Europe/Paris")
    assert created.status_code == 302

    # The verification mail's link opens a page whose button confirms the address.
    with app.app_context():
        mail = outbox(template="verify_email")[-1]
    link = re.search(r"http://academy.test(/verify-email\?token=\S+)", mail.text_body).group(1)
    confirm = client.get(link)
    assert confirm.status_code == 200 and "Confirm my email" in text(confirm)
    token = re.search(r'name="token" value="([^"]+)"', text(confirm)).group(1)
    assert "Your address is confirmed" in text(client.post("/verify-email", data={"token": token}))

    career = client.get(links(text(client.get("/")))["Data Career"])
    track = client.get(links(text(career))["Basics"])
    assert "Not started" in text(career) and ">Enroll<" in text(track)
    enrolled = submit(client, text(track), "/tracks/basics/enroll")
    assert enrolled.headers["Location"].endswith("/tracks/basics/intro")

    page = client.get("/tracks/basics/intro")
    body = text(page)
    assert "Lesson 1 of 3" in body and "Mark complete" in body
    for lesson in ("intro", "numbers", "plots"):
        page = client.get(f"/tracks/basics/{lesson}")
        done = submit(client, text(page), f"/tracks/basics/{lesson}/complete")
        assert done.status_code == 302
    finished = client.get("/tracks/basics")
    assert "You finished this track" in text(finished) and "100% done" in text(finished)

    with app.app_context():
        from academy.badges import service as badges
        from academy.extensions import db

        badges.reconcile()  # what the worker does within seconds
        db.session.commit()
    dashboard = text(client.get("/dashboard"))
    assert "basics badge" in dashboard
    share = links(dashboard)["basics badge"]
    assert client.get(urlsplit(share).path).status_code == 200
    assert "Current streak" in dashboard and "1 day" in dashboard

    signed_out = submit(client, dashboard, "/logout")
    assert signed_out.status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_pages_that_need_sign_in_send_visitors_to_sign_in_and_back(app, site, client):
    with app.app_context():
        make_user(email="bo@example.org")
    gone = client.get("/settings")
    assert gone.status_code == 302 and gone.headers["Location"] == "/login?next=/settings"
    form = client.get(gone.headers["Location"])
    back = submit(client, text(form), "/login", email="bo@example.org", password=PASSWORD,
                  next="/settings")
    assert back.status_code == 302 and back.headers["Location"] == "/settings"


def test_keep_me_signed_in_sets_the_remember_cookie_and_its_absence_does_not(app, site, client):
    with app.app_context():
        make_user(email="bea@example.org")
    signed = submit(client, text(client.get("/login")), "/login", email="bea@example.org",
                    password=PASSWORD, remember="y")
    assert "remember_token=" in " ".join(signed.headers.getlist("Set-Cookie"))
    other = app.test_client()
    plain = submit(other, text(other.get("/login")), "/login", email="bea@example.org",
                   password=PASSWORD)
    assert plain.status_code == 302
    assert "remember_token=" not in " ".join(plain.headers.getlist("Set-Cookie"))


def test_under_a_path_prefix_links_forms_and_redirects_stay_under_it(app, site, client):
    """Served at /academy (a proxy's X-Forwarded-Prefix becomes SCRIPT_NAME): every link and
    form action of a page, and the redirect back after signing in, keep the prefix."""
    with app.app_context():
        make_user(email="bel@example.org")
    prefix = {"SCRIPT_NAME": "/academy"}
    gone = client.get("/settings", environ_overrides=prefix)
    assert gone.headers["Location"] == "/academy/login?next=/settings"
    form = text(client.get("/login", environ_overrides=prefix))
    paths = re.findall(r'(?:href|action|src)="(/[^"]*)"', form)
    assert paths and all(path.startswith("/academy/") for path in paths), paths
    back = client.post("/login", environ_overrides=prefix, data={
        "csrf_token": csrf_of(form), "email": "bel@example.org", "password": PASSWORD,
        "next": "/settings"})
    assert back.headers["Location"] == "/academy/settings"
    page = text(client.get("/dashboard", environ_overrides=prefix))
    paths = re.findall(r'(?:href|action|src)="(/[^"]*)"', page)
    assert paths and all(path.startswith("/academy/") for path in paths), paths


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(app, site, client, target):
    with app.app_context():
        make_user(email="cy@example.org")
    form = client.get("/login")
    answer = submit(client, text(form), "/login", email="cy@example.org", password=PASSWORD,
                    next=target)
    assert answer.headers["Location"] == "/dashboard"


def test_a_form_without_its_csrf_token_changes_nothing(app, site, client):
    with app.app_context():
        make_user(email="di@example.org")
    assert client.post("/login", data={"email": "di@example.org", "password": PASSWORD}).status_code == 400
    assert client.get("/dashboard").status_code == 302  # not signed in


def test_errors_stand_beside_their_fields_and_typed_values_stay(app, site, client):
    form = client.get("/signup")
    answer = submit(client, text(form), "/signup", email="not-an-address", password="short",
                    display_name="Eve", timezone="Europe/Paris")
    body = text(answer)
    assert answer.status_code == 422
    assert "There is a problem" in body and 'href="#email"' in body and 'href="#password"' in body
    assert 'value="Eve"' in body and 'value="Europe/Paris" selected' in body
    assert 'aria-invalid="true"' in body and "short" not in re.findall(r'value="([^"]*)"', body)


def test_wrong_password_on_sign_in_says_so_without_telling_who_exists(app, site, client):
    with app.app_context():
        make_user(email="fa@example.org")
    form = text(client.get("/login"))
    known = submit(client, form, "/login", email="fa@example.org", password="wrong password!")
    unknown = submit(client, form, "/login", email="nobody@example.org", password="wrong password!")
    assert known.status_code == unknown.status_code == 401
    assert "The email or the password is not right." in text(known)
    # The CSRF token is signed with the time, so it differs when the second ticks in between.
    def same(page, email):
        return re.sub(r'name="csrf_token" value="[^"]+"', "", text(page).replace(email, "X"))
    assert same(known, "fa@example.org") == same(unknown, "nobody@example.org")


def test_settings_change_zone_hour_and_mail_preferences(app, site, client):
    with app.app_context():
        user = make_user(email="gi@example.org")
        user_id = user.id
    submit(client, text(client.get("/login")), "/login", email="gi@example.org", password=PASSWORD)
    page = text(client.get("/settings"))
    for name in ("Name", "Time zone", "Reminder hour", "Reminder emails", "Badge emails",
                 "Current password", "New password"):
        assert f">{name}</label>" in page, name
    saved = submit(client, page, "/settings", display_name="Gi", timezone="Asia/Tokyo",
                   reminder_hour="9", badges="y")
    assert saved.status_code == 302
    assert "Your settings are saved." in text(client.get("/settings"))
    with app.app_context():
        from academy.accounts.models import User
        from academy.extensions import db

        user = db.session.get(User, user_id)
        assert (user.timezone, user.reminder_hour, user.reminders_enabled,
                user.badge_emails_enabled) == ("Asia/Tokyo", 9, False, True)
    bad = submit(client, page, "/settings", display_name="Gi", timezone="Mars/Base",
                 reminder_hour="99")
    assert bad.status_code == 422 and 'href="#timezone"' in text(bad)
    assert 'href="#reminder_hour"' in text(bad)


def test_the_data_export_downloads_as_a_file(app, site, client):
    with app.app_context():
        make_user(email="ha@example.org")
    submit(client, text(client.get("/login")), "/login", email="ha@example.org", password=PASSWORD)
    export = client.get(links(text(client.get("/settings")))["Download my data"])
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    assert export.get_json()["user"]["email"] == "ha@example.org"


def test_an_unknown_track_is_a_404_page_not_json(app, site, client):
    answer = client.get("/tracks/nope")
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert client.get("/tracks/basics/nope").status_code == 404


def test_a_signed_in_page_costs_at_most_three_statements(app, site, client):
    with app.app_context():
        make_user(email="io@example.org")
    submit(client, text(client.get("/login")), "/login", email="io@example.org", password=PASSWORD)
    submit(client, text(client.get("/tracks/basics")), "/tracks/basics/enroll")
    for path in ("/tracks/basics/intro", "/tracks/basics", "/careers/data-career", "/"):
        client.get(path)  # warms this process's catalog cache, as the first visitor does
    # The session's user, then the learner's enrollments; the catalog comes from the cache.
    for path in ("/tracks/basics/intro", "/tracks/basics", "/careers/data-career", "/"):
        with statements(app) as sent:
            assert client.get(path).status_code == 200
        assert len(sent) <= 3, (path, [statement for _, statement in sent])
    # The dashboard also reads the badges and the learning days of the streak: 4, one over.
    with statements(app) as sent:
        assert client.get("/dashboard").status_code == 200
    assert len(sent) == 4, [statement for _, statement in sent]


def test_admins_see_each_tracks_funnel_and_learners_do_not(app, site, client):
    with app.app_context():
        make_user(email="ja@example.org")
        make_user(email="ko@example.org", is_admin=True)
    submit(client, text(client.get("/login")), "/login", email="ja@example.org", password=PASSWORD)
    submit(client, text(client.get("/tracks/basics")), "/tracks/basics/enroll")
    submit(client, text(client.get("/tracks/basics/intro")), "/tracks/basics/intro/complete")
    assert client.get("/admin").status_code == 403
    submit(client, text(client.get("/dashboard")), "/logout")
    submit(client, text(client.get("/login")), "/login", email="ko@example.org", password=PASSWORD)
    page = text(client.get("/admin"))
    assert "<svg" in page and "Funnel of Basics: Enrolled 1, Lesson intro 1, Lesson numbers 0" in page


def test_the_api_docs_page_lists_every_operation_from_this_host(app, client):
    page = client.get("/api/docs")
    body = text(page)
    assert page.status_code == 200 and "<script" not in body
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                assert f"{method.upper()} {path}" in body
    assert not [url for url in re.findall(r'(?:src|href)="([^"]+)"', body) if url.startswith("http")]


def test_deleting_the_account_needs_the_password_then_signs_out_for_good(app, site, client):
    with app.app_context():
        make_user(email="lu@example.org")
    submit(client, text(client.get("/login")), "/login", email="lu@example.org", password=PASSWORD)
    page = text(client.get("/settings"))
    wrong = submit(client, page, "/settings/delete", password="not my password")
    assert wrong.status_code == 422 and 'href="#password"' in text(wrong)
    assert client.get("/dashboard").status_code == 200  # still signed in, nothing erased
    gone = submit(client, page, "/settings/delete", password=PASSWORD)
    assert gone.status_code == 302 and gone.headers["Location"] == "/"
    assert client.get("/dashboard").status_code == 302
    again = submit(client, text(client.get("/login")), "/login", email="lu@example.org",
                   password=PASSWORD)
    assert again.status_code == 401


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, site, client):
    with app.app_context():
        make_user(email="mo@example.org")
    other = app.test_client()
    for browser in (client, other):
        submit(browser, text(browser.get("/login")), "/login", email="mo@example.org",
               password=PASSWORD)
    page = text(client.get("/settings"))
    short = submit(client, page, "/settings/password", current_password=PASSWORD, new_password="short")
    assert short.status_code == 422 and 'href="#new_password"' in text(short)
    changed = submit(client, page, "/settings/password", current_password=PASSWORD,
                     new_password="a brand new long secret")
    assert changed.status_code == 302
    assert client.get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 302


def test_changing_the_address_from_settings_waits_for_the_link(app, site, client):
    from sqlalchemy import select

    from academy.extensions import db
    from academy.notifications.models import OutboxMessage

    with app.app_context():
        make_user(email="ed@example.org")
    submit(client, text(client.get("/login")), "/login", email="ed@example.org", password=PASSWORD)
    page = text(client.get("/settings"))
    assert 'id="new_email"' in page and "ed@example.org" in page
    wrong = submit(client, page, "/settings/email", new_email="ed@new.example.org",
                   email_password="not the password")
    assert wrong.status_code == 422 and 'href="#email_password"' in text(wrong)
    bad = submit(client, page, "/settings/email", new_email="not an address",
                 email_password=PASSWORD)
    assert bad.status_code == 422 and 'href="#new_email"' in text(bad)
    sent = submit(client, page, "/settings/email", new_email="ed@new.example.org",
                  email_password=PASSWORD)
    assert sent.status_code == 302
    with app.app_context():
        to = set(db.session.scalars(select(OutboxMessage.to_address)))
    assert to >= {"ed@new.example.org", "ed@example.org"}
    assert "ed@example.org" in text(client.get("/settings"))  # unchanged until the link is used


def test_enrolling_before_the_prerequisites_shows_a_notice_linking_them(app, site, client):
    with app.app_context():
        make_user(email="lu@example.org")
    submit(client, text(client.get("/login")), "/login", email="lu@example.org", password=PASSWORD)
    track = client.get("/tracks/advanced")
    assert "You have not finished" not in text(track)  # nothing to warn about before enrolling
    enrolled = submit(client, text(track), "/tracks/advanced/enroll")
    # Allowed, and the track page says what it builds on before the first lesson.
    assert enrolled.status_code == 302 and enrolled.headers["Location"].endswith("/tracks/advanced")
    page = client.get(enrolled.headers["Location"])
    html = text(page)
    assert "You are enrolled in Advanced." in html
    notice = re.search(r'<div class="notice notice--error"[^>]*>(.*?)</div>', html, re.S).group(1)
    assert "You have not finished Basics, which this track builds on." in re.sub(r"<[^>]+>", "", notice)
    assert links(notice)["Basics"] == "/tracks/basics"
    assert "Continue" in links(html)
    # Once Basics is done the notice goes.
    submit(client, text(client.get("/tracks/basics")), "/tracks/basics/enroll")
    for lesson in ("intro", "numbers", "plots"):
        submit(client, text(client.get(f"/tracks/basics/{lesson}")), f"/tracks/basics/{lesson}/complete")
    assert "You have not finished" not in text(client.get("/tracks/advanced"))


# -- checks and project evidence through the lesson page ----------------------------------------

EXPLANATIONS = ("Wrong: precision counts false alarms.", "Right: recall counts missed frauds.",
                "Wrong: with 1% fraud, accuracy hides misses.",
                "Right: the test rows shaped the scaler.", "Wrong: that is the fix.",
                "Right: the test set steered the choice.")


@pytest.fixture
def projects(app, site):
    """``site`` plus the ``projects`` track: ``quiz`` (a check), ``build`` (evidence), ``notes``."""
    from tests.helpers.content import checked_track

    checked_track(site)
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(site)])
    assert result.exit_code == 0, result.output
    return site


def enrolled_in_projects(app, client, email: str) -> None:
    with app.app_context():
        make_user(email=email)
    submit(client, text(client.get("/login")), "/login", email=email, password=PASSWORD)
    assert submit(client, text(client.get("/tracks/projects")),
                  "/tracks/projects/enroll").status_code == 302


def fieldset(html: str, question: str) -> str:
    """The markup of one question's fieldset."""
    (found,) = [part.split("</fieldset>")[0] for part in html.split("<fieldset")[1:]
                if f'name="q-{question}"' in part.split("</fieldset>")[0]]
    return found


def answer(client, answers: dict):
    page = text(client.get("/tracks/projects/quiz"))
    return submit(client, page, "/tracks/projects/quiz/check", **answers)


def lessons_done(client) -> str:
    return re.search(r"(\d+ of \d+ lessons)", text(client.get("/dashboard"))).group(1)


def test_the_answers_are_never_in_the_lesson_page_before_an_attempt(app, projects, client):
    def assert_no_answers(html):
        assert "Right:" not in html and "Wrong:" not in html and "why" not in html.lower()
        assert not [why for why in EXPLANATIONS if why in html]
        assert "Which metric?" in html and "Recall" in html  # the questions, to read

    signed_out = text(client.get("/tracks/projects/quiz"))
    assert_no_answers(signed_out)
    assert 'name="q-metric"' not in signed_out and "Sign in</a> to answer the questions" in signed_out
    enrolled_in_projects(app, client, "qa@example.org")
    page = text(client.get("/tracks/projects/quiz"))
    assert_no_answers(page)
    assert "Submit answers" in page and "Mark complete" not in page
    assert len(re.findall(r'type="radio" id="[^"]+" name="q-metric"', page)) == 3
    assert len(re.findall(r'type="checkbox" id="[^"]+" name="q-leaks"', page)) == 3
    assert "<legend" in fieldset(page, "leaks") and "Select all that apply." in fieldset(page, "leaks")


def test_a_wrong_attempt_on_the_page_shows_which_was_wrong_and_every_explanation(
        app, projects, client):
    from tests.web.test_layout import assert_well_formed_page

    enrolled_in_projects(app, client, "qb@example.org")
    graded = answer(client, {"q-metric": "a", "q-leaks": ["a", "c"]})
    html = text(graded)
    assert_well_formed_page(client, graded, 200)
    assert "1 of 2 right — not passed yet; every question must be right" in html
    metric, leaks = fieldset(html, "metric"), fieldset(html, "leaks")
    assert "Not right yet." in metric and "Right." in leaks and "Not right yet." not in leaks
    for why in EXPLANATIONS:  # every choice explained, the ones not chosen too
        assert why in html, why
    # What the learner chose stays chosen, so they can change it and try again.
    assert re.search(r'value="a" checked aria-describedby="q-metric--why"', metric)
    assert not re.search(r'value="b" checked', metric)
    assert re.search(r'<strong>You chose this.</strong> Wrong: precision', metric)
    assert "Submit answers" in html and "Passed" not in html
    assert lessons_done(client) == "0 of 3 lessons"


def test_a_right_attempt_on_the_page_completes_the_lesson(app, projects, client):
    enrolled_in_projects(app, client, "qc@example.org")
    graded = answer(client, {"q-metric": "b", "q-leaks": ["a", "c"]})
    html = text(graded)
    assert graded.status_code == 200
    assert "Passed: this lesson is complete" in html and "33% done" in html
    assert links(html)["Next lesson: Build the project"] == "/tracks/projects/build"
    assert lessons_done(client) == "1 of 3 lessons"


def test_an_unanswered_question_is_a_422_linking_it_and_keeps_the_answers(app, projects, client):
    from tests.web.test_layout import assert_well_formed_page

    enrolled_in_projects(app, client, "qd@example.org")
    refused = answer(client, {"q-metric": "b"})
    page = assert_well_formed_page(client, refused, 422)
    html = text(refused)
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert links(summary) == {"Question 2: Answer this question.": "#q-leaks"}
    assert "q-leaks" in page.ids()  # the link lands on the question's first choice
    leaks = fieldset(html, "leaks")
    assert 'aria-describedby="q-leaks--hint q-leaks--error"' in leaks
    assert "Answer this question." in leaks
    assert re.search(r'value="b" checked', fieldset(html, "metric"))
    assert html.split("<title>")[1].startswith("Error: ")
    assert lessons_done(client) == "0 of 3 lessons"


def test_project_evidence_through_the_page(app, projects, client):
    from tests.web.test_layout import assert_well_formed_page

    enrolled_in_projects(app, client, "qe@example.org")
    page = text(client.get("/tracks/projects/build"))
    assert 'type="url"' in page and ">Link</label>" in page and "Submit evidence" in page
    assert "Link the GitHub repository of your project." in page
    bad = submit(client, page, "/tracks/projects/build/evidence",
                 url="https://gitlab.com/ada/fraud-model", note="Nightly scoring.")
    assert_well_formed_page(client, bad, 422)
    html = text(bad)
    assert 'href="#url"' in html and 'id="url-error"' in html and "Not the link this lesson asks for" in html
    assert 'value="https://gitlab.com/ada/fraud-model"' in html and "Nightly scoring." in html
    assert lessons_done(client) == "0 of 3 lessons"
    good = submit(client, page, "/tracks/projects/build/evidence",
                  url="https://github.com/ada/fraud-model", note="Nightly scoring.")
    assert good.status_code == 302 and good.headers["Location"] == "/tracks/projects/build"
    after = text(client.get(good.headers["Location"]))
    assert "Your project is submitted: this lesson is complete." in after
    assert "You submitted your project." in after
    assert lessons_done(client) == "1 of 3 lessons"


def test_the_admin_page_lists_the_hardest_questions(app, projects, client):
    with app.app_context():
        make_user(email="qf@example.org", is_admin=True)
    submit(client, text(client.get("/login")), "/login", email="qf@example.org", password=PASSWORD)
    before = text(client.get("/admin"))
    assert "Hardest questions" in before and "None of its questions has been attempted yet." in before
    assert "No lesson of this track has a check." in before  # basics

    learner = app.test_client()
    enrolled_in_projects(app, learner, "qg@example.org")
    answer(learner, {"q-metric": "a", "q-leaks": ["a", "c"]})  # first try: metric wrong
    answer(learner, {"q-metric": "b", "q-leaks": ["a", "c"]})

    html = text(client.get("/admin"))
    assert "None of its questions has been attempted yet." not in html
    table = html[html.index("Hardest questions"):]
    rows = re.findall(r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td><td[^>]*>(\d+)</td>"
                      r"<td[^>]*>(\d+%)</td></tr>", table)
    assert [(re.sub(r"<[^>]+>", "", q), lesson, n, rate) for q, lesson, n, rate in rows] == [
        ("Missing a fraud costs far more than a false alarm. Which metric? (metric)",
         "Metrics quiz", "2", "0%"),
        ("Which of these leak the test set? (select all that apply) (leaks)",
         "Metrics quiz", "2", "100%"),
    ]
