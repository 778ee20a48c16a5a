"""The learner pages' frame: one layout, one stylesheet from this host, nothing inline, labelled
controls, and the component macros as a page uses them."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from flask import flash, render_template_string

from academy.accounts import service
from academy.extensions import db
from academy.notifications.service import make_unsubscribe_token
from tests.helpers.badges import finish
from tests.helpers.broker import purge
from tests.helpers.clients import signed_in
from tests.helpers.factories import make_user

CONTROLS = {"input", "select", "textarea"}


class Page(HTMLParser):
    """What the assertions need from a page, read with the standard library's parser."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.inline_scripts = 0
        self.style_elements = 0
        self._text: list[str] = []
        self.feed(html)
        self.close()
        self.text = " ".join(" ".join(self._text).split())

    def handle_starttag(self, tag, attrs):
        attributes = {name: (value or "") for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "style":
            self.style_elements += 1
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self._text.append(data)

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]

    def controls(self) -> list[tuple[str, dict]]:
        return [(tag, attrs) for tag, attrs in self.tags
                if tag in CONTROLS and attrs.get("type") != "hidden"]

    def ids(self) -> list[str]:
        return [attrs["id"] for _, attrs in self.tags if "id" in attrs]


def assert_well_formed_page(client, response, status: int) -> Page:
    """The checks every learner page passes; returns the parsed page for more."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp
    assert "style-src 'self'" in csp and "script-src 'self'" in csp
    html = response.get_data(as_text=True)
    assert html.lower().startswith("<!doctype html>")
    page = Page(html)

    assert page.all("html") == [{"lang": "en"}]
    # Nothing inline: the CSP would block it anyway, so it would only be broken.
    assert "style=" not in html
    assert page.style_elements == 0 and page.inline_scripts == 0
    assert not [attrs for _, attrs in page.tags if "style" in attrs]

    # The one stylesheet, served from this host as CSS.
    sheets = [attrs["href"] for attrs in page.all("link") if attrs.get("rel") == "stylesheet"]
    assert sheets == ["/static/web/academy.css"]
    with client.get(sheets[0]) as sheet:  # a file response: closed, or it leaks the file
        assert sheet.status_code == 200 and sheet.mimetype == "text/css"
        assert b"prefers-color-scheme: dark" in sheet.data

    # The skip link lands on main; ids are unique.
    assert {"class": "skip-link", "href": "#main"} in page.all("a")
    assert [attrs.get("id") for attrs in page.all("main")] == ["main"]
    assert len(page.ids()) == len(set(page.ids()))

    # Every visible control has a label pointing at its id.
    labelled = {attrs.get("for") for attrs in page.all("label")}
    for tag, attrs in page.controls():
        assert attrs.get("id"), f"<{tag} name={attrs.get('name')}> has no id"
        assert attrs["id"] in labelled, f"<{tag} id={attrs['id']}> has no <label for>"
    # aria-describedby only names elements on the page.
    for _, attrs in page.tags:
        for ref in attrs.get("aria-describedby", "").split():
            assert ref in page.ids()
    return page


def unsubscribe_token(app, category: str = "reminders") -> str:
    with app.app_context():
        token = make_unsubscribe_token(make_user().id, category)
        db.session.commit()  # the token is a row now
        return token


def link_token(app, kind: str) -> str:
    """A working token for a ``/verify-email`` or ``/reset-password`` link."""
    with app.app_context():
        user = make_user(verified=False)
        make = service.verification_token if kind == "verify" else service.reset_token
        return make(user)


PAGES = {
    "verify-email form": lambda app, client: client.get(
        f"/verify-email?token={link_token(app, 'verify')}"),
    "reset-password form": lambda app, client: client.get(
        f"/reset-password?token={link_token(app, 'reset')}"),
    "unsubscribe confirm": lambda app, client: client.get(f"/unsubscribe/{unsubscribe_token(app)}"),
    "unsubscribed": lambda app, client: client.post(f"/unsubscribe/{unsubscribe_token(app)}"),
}


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_built_on_the_layout(app, client, name):
    page = assert_well_formed_page(client, PAGES[name](app, client), 200)
    assert "HireKit Academy" in page.text and "API documentation" in page.text
    assert {"href": "/api/docs"} in page.all("a")
    assert {"href": "/login"} in page.all("a") and {"href": "/signup"} in page.all("a")


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_invalid_unsubscribe_page_too(client, method):
    page = assert_well_formed_page(client, getattr(client, method)("/unsubscribe/nonsense"), 404)
    assert "not valid" in page.text


def test_the_verification_error_page(client):
    page = assert_well_formed_page(client, client.post("/verify-email", data={"token": "forged"}),
                                   400)
    assert "This link does not work" in page.text
    assert [attrs["role"] for attrs in page.all("div") if "role" in attrs] == ["alert"]


def test_forms_carry_a_csrf_token_except_one_click_unsubscribe(app, client):
    for path, kind in (("/verify-email", "verify"), ("/reset-password", "reset")):
        token = link_token(app, kind)
        page = Page(client.get(f"{path}?token={token}").get_data(as_text=True))
        hidden = {attrs["name"]: attrs["value"] for attrs in page.all("input")
                  if attrs.get("type") == "hidden"}
        assert hidden["token"] == token and hidden["csrf_token"]
    page = Page(client.get(f"/unsubscribe/{unsubscribe_token(app)}").get_data(as_text=True))
    assert not [attrs for attrs in page.all("input") if attrs.get("name") == "csrf_token"]


def test_the_unsubscribe_confirmation_links_settings(app, client):
    page = Page(client.get(f"/unsubscribe/{unsubscribe_token(app)}").get_data(as_text=True))
    assert {"href": "/settings"} in page.all("a")
    assert "Manage all your mail preferences in settings" in page.text


def test_a_refused_reset_shows_the_error_summary_and_the_message_beside_the_field(client):
    response = client.post("/reset-password", data={"token": "x", "password": "short"})
    page = assert_well_formed_page(client, response, 400)
    summary = [attrs for attrs in page.all("div") if attrs.get("class") == "error-summary"]
    assert summary and summary[0]["role"] == "alert" and summary[0]["tabindex"] == "-1"
    assert "There is a problem" in page.text
    assert {"href": "#password"} in page.all("a")
    (password,) = [attrs for tag, attrs in page.controls()]
    assert password["id"] == "password" and password["type"] == "password"
    assert password["aria-invalid"] == "true" and "value" not in password
    assert "password-error" in password["aria-describedby"].split()
    title = response.get_data(as_text=True).split("<title>")[1].split("</title>")[0]
    assert title.startswith("Error: ")


def test_a_signed_in_learner_gets_the_signed_in_header(app):
    learner = signed_in(app)
    page = assert_well_formed_page(
        learner.client, learner.get(f"/verify-email?token={link_token(app, 'verify')}"), 200)
    hrefs = {attrs.get("href") for attrs in page.all("a")}
    assert {"/", "/dashboard", "/settings"} <= hrefs and "/login" not in hrefs
    logout = [attrs for attrs in page.all("form") if attrs.get("action") == "/logout"]
    assert logout == [{"class": "site-nav__form", "method": "post", "action": "/logout"}]
    assert "Sign out" in page.text
    tokens = [attrs for attrs in page.all("input") if attrs.get("name") == "csrf_token"]
    assert len(tokens) == 2 and all(attrs["value"] for attrs in tokens)  # the header's and the form's


def test_the_badge_share_page_keeps_its_share_metadata(app, catalog):
    learner = signed_in(app)
    finish(learner)
    purge(app)
    result = app.test_cli_runner().invoke(args=["academy", "badges", "reconcile"])
    assert result.exit_code == 0, result.output
    url = learner.get("/api/v1/me/badges").get_json()["items"][0]["url"]
    client = app.test_client()
    page = assert_well_formed_page(client, client.get(urlsplit(url).path), 200)
    og = {attrs["property"]: attrs["content"] for attrs in page.all("meta") if "property" in attrs}
    assert og["og:url"] == url and og["og:title"].endswith("earned basics badge")
    assert "Add to LinkedIn profile" in page.text
    assert [attrs.get("alt") for attrs in page.all("img")] == ["basics badge badge"]


COMPONENTS = """{% extends "web/_layout.html" %}{% import "web/_macros.html" as ui %}
{% block title %}Components{% endblock %}
{% block content %}
{{ ui.breadcrumb([('Careers', '/'), ('Python basics', '/tracks/basics'), ('Numbers', None)]) }}
<h1>Numbers</h1>
{{ ui.lesson_meta(3, 7, 12) }}
{{ ui.error_summary({'email': 'Enter an email address', 'zone': 'Choose a time zone'}) }}
<form method="post" action="/settings">{{ ui.csrf() }}
{{ ui.field('email', 'Email', value='ada@example', type='email', error='Enter an email address',
            hint='We send reminders here', autocomplete='email', required=True) }}
{{ ui.field('password', 'Password', value='typed secret', type='password') }}
{{ ui.select('zone', 'Time zone', [('UTC', 'UTC'), ('Europe/Paris', 'Paris')], 'Europe/Paris',
             error='Choose a time zone') }}
{{ ui.checkbox('reminders', 'Reminder emails', true) }}
{{ ui.button('Save') }} {{ ui.button('Cancel', 'secondary') }}
</form>
{{ ui.progress(42.4, 'Progress in Python basics') }}
{{ ui.track_card({'slug': 'basics', 'title': 'Python basics', 'summary': 'Start here.',
                  'estimated_minutes': 150, 'lesson_count': 3}, {'percent': 40},
                 {'text': 'Continue', 'href': '/tracks/basics/numbers'}) }}
{{ ui.career_path([
     {'position': 1, 'slug': 'basics', 'title': 'Basics', 'summary': 'S', 'state': 'done', 'percent': 100},
     {'position': 2, 'slug': 'data', 'title': 'Data', 'summary': 'S', 'state': 'in-progress', 'percent': 40},
     {'position': 3, 'slug': 'models', 'title': 'Models', 'summary': 'S', 'state': 'not-started',
      'percent': None}]) }}
{{ ui.prev_next({'href': '/tracks/basics/intro', 'title': 'Intro'}, None) }}
{% endblock %}"""


def test_the_component_macros(app):
    with app.test_request_context("/"):
        flash("Your settings are saved.", "success")
        flash("That did not work.", "error")
        html = render_template_string(COMPONENTS)
    page = Page(html)
    assert "style=" not in html and page.inline_scripts == 0

    roles = [attrs.get("role") for attrs in page.all("div") if "notice" in attrs.get("class", "").split()]
    assert roles == ["status", "alert"]  # flashed messages, at the top of main
    assert "Lesson 3 of 7 · 12 min" in page.text
    assert {"aria-current": "page"} in page.all("span")
    assert {"href": "#email"} in page.all("a") and {"href": "#zone"} in page.all("a")

    labelled = {attrs.get("for") for attrs in page.all("label")}
    controls = {attrs["id"]: attrs for _, attrs in page.controls()}
    assert set(controls) == {"email", "password", "zone", "reminders"} and set(controls) <= labelled
    assert controls["email"]["value"] == "ada@example"  # typed values are kept …
    assert "value" not in controls["password"]  # … but never a password
    assert controls["email"]["aria-describedby"] == "email-hint email-error"
    assert controls["email"]["aria-invalid"] == "true" and "aria-invalid" not in controls["password"]
    assert controls["zone"]["aria-describedby"] == "zone-error"
    assert "checked" in controls["reminders"]
    assert {"value": "Europe/Paris", "selected": ""} in page.all("option")

    bars = page.all("progress")
    assert {"class": "progress__bar", "max": "100", "value": "42",
            "aria-label": "Progress in Python basics"} in bars
    assert "42% done" in page.text and "40% done" in page.text
    assert "3 lessons · 2 h 30 min" in page.text
    assert {"class": "button button--secondary", "href": "/tracks/basics/numbers"} in page.all("a")

    for words in ("Done", "In progress, 40%", "Not started"):
        assert words in page.text
    assert all(attrs.get("aria-hidden") == "true" for attrs in page.all("svg"))
    assert {"href": "/tracks/models"} in page.all("a")
    assert "Previous lesson Intro" in page.text and "Next lesson" not in page.text
    buttons = [attrs["class"] for attrs in page.all("button")]
    assert buttons == ["button button--primary", "button button--secondary"]
