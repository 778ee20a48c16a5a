"""Whole journeys in a real browser: Debian's Chromium driven by Playwright, axe on every page.

The app is served over HTTP by a real server thread on the test database; the browser finds
controls by their accessible names, as a screen reader would. ``.ci/run`` installs Chromium
and sets ``ACADEMY_TEST_REQUIRE_BROWSER=1``, so CI fails rather than skips without it.
"""
from __future__ import annotations

import os
import re
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.helpers.factories import PASSWORD, make_user
from tests.helpers.mail import outbox

CHROMIUM = "/usr/bin/chromium"
HAVE_BROWSER = shutil.which(CHROMIUM) is not None
try:
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - the test extras install both
    HAVE_BROWSER = False

if not HAVE_BROWSER and os.environ.get("ACADEMY_TEST_REQUIRE_BROWSER"):
    raise RuntimeError(f"ACADEMY_TEST_REQUIRE_BROWSER is set but {CHROMIUM} or Playwright is missing")

pytestmark = pytest.mark.skipif(
    not HAVE_BROWSER, reason=f"needs Chromium at {CHROMIUM} (apt-get install -y chromium) and "
                             "Playwright; .ci/run installs both")

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def server(app, site):
    """The app on a free local port, as a browser reaches it."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{http.server_port}"
    app.config["BASE_URL"] = base  # the links in mail point at this server
    try:
        yield base
    finally:
        app.config["BASE_URL"] = "http://academy.test"
        http.shutdown()
        thread.join(5)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Checked:
    """A page that runs axe-core after every navigation and keeps what it finds."""

    def __init__(self, page):
        self.page = page
        self.axe = Axe()
        self.problems: list[str] = []
        self.seen: list[str] = []

    def check(self) -> None:
        results = self.axe.run(self.page)
        self.seen.append(self.page.url)
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                self.problems.append(f"{self.page.url}: {violation['id']} ({violation['impact']}): "
                                     f"{violation['help']}")


def _mail_link(app, template: str, pattern: str) -> str:
    with app.app_context():
        mail = outbox(template=template)[-1]
    return re.search(pattern, mail.text_body).group(0)


def test_sign_up_to_badge_then_settings_unsubscribe_and_sign_out(app, server, browser):
    context = browser.new_context(base_url=server)
    page = context.new_page()
    checked = Checked(page)

    page.goto("/")
    checked.check()
    page.get_by_role("link", name="Create account").first.click()
    checked.check()
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Name").fill("Ada")
    # The page's script preselected the browser's zone; the learner picks theirs.
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("confirm your email")

    page.goto(_mail_link(app, "verify_email", r"http://\S+/verify-email\?token=\S+"))
    checked.check()
    page.get_by_role("button", name="Confirm my email").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your address is confirmed")

    page.goto("/")
    page.get_by_role("link", name="Data Career").click()
    checked.check()
    page.get_by_role("link", name="Basics").first.click()
    checked.check()
    page.get_by_role("button", name="Enroll").click()
    expect(page).to_have_url(re.compile(r"/tracks/basics/intro$"))
    checked.check()
    expect(page.get_by_text("Lesson 1 of 3")).to_be_visible()
    for _ in range(3):
        page.get_by_role("button", name="Mark complete").click()
    expect(page.get_by_text("You finished this track")).to_be_visible()

    with app.app_context():  # what the worker does within seconds of the commit
        from academy.badges import service as badges
        from academy.extensions import db

        badges.reconcile()
        db.session.commit()
    page.get_by_role("link", name="Dashboard", exact=True).click()
    checked.check()
    expect(page.get_by_text("100% done").first).to_be_visible()
    expect(page.get_by_text("1 day").first).to_be_visible()
    page.get_by_role("link", name="basics badge").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("basics badge")
    checked.check()

    page.goto("/settings")
    checked.check()
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_label("Reminder hour").select_option("9")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")

    # The badge mail's one-click unsubscribe link opens a page whose button does it.
    page.goto(_mail_link(app, "badge_earned", r"http://\S+/unsubscribe/[\w.-]+"))
    checked.check()
    page.get_by_role("button").filter(has_text=re.compile("unsubscribe", re.I)).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("unsubscribed")
    checked.check()

    page.goto("/dashboard")
    page.get_by_role("button", name="Sign out").click()
    page.goto("/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))
    checked.check()
    context.close()
    assert not checked.problems, "\n".join(checked.problems)


def test_with_javascript_off_a_learner_signs_in_and_completes_a_lesson(app, server, browser):
    with app.app_context():
        make_user(email="bo@example.org")
    context = browser.new_context(base_url=server, java_script_enabled=False,
                                  viewport={"width": 375, "height": 800}, color_scheme="dark")
    page = context.new_page()
    page.goto("/tracks/basics/intro")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Email").fill("bo@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tracks/basics/intro$"))
    page.get_by_role("button", name="Enroll").click()
    page.get_by_role("button", name="Mark complete").click()
    expect(page).to_have_url(re.compile(r"/tracks/basics/numbers$"))
    expect(page.get_by_text("33% done").first).to_be_visible()
    # 375 px wide: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_a_reminder_mails_link_opens_its_lesson_page(app, server, browser):
    from datetime import timedelta

    from academy.extensions import db
    from academy.learning import reminders
    from academy.learning import service as learning
    from academy.timeutil import utcnow

    with app.app_context():
        user = make_user(email="cy@example.org", timezone="UTC")
        learning.enroll(user.id, "basics")
        db.session.commit()
        # Four idle days later, at the learner's reminder hour (18:00 UTC).
        now = (utcnow() + timedelta(days=4)).replace(hour=18, minute=5)
        sent = reminders.sweep(now)
        assert sent, "the sweep found the stalled learner"
    link = _mail_link(app, "reminder", r"http://\S+/tracks/basics/\S+")
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Lesson intro")
    expect(page.get_by_text("Lesson 1 of 3")).to_be_visible()
    context.close()


def test_every_other_page_passes_axe_in_light_and_dark(app, server, browser):
    with app.app_context():
        make_user(email="di@example.org", is_admin=True)
    problems = []
    for scheme in ("light", "dark"):
        context = browser.new_context(base_url=server, color_scheme=scheme)
        page = context.new_page()
        checked = Checked(page)
        for path in ("/login", "/signup", "/forgot-password", "/careers/data-career",
                     "/tracks/advanced", "/tracks/nope", "/api/docs"):
            page.goto(path)
            checked.check()
        page.goto("/signup")
        page.get_by_role("button", name="Create account").click()  # every field in error
        expect(page.get_by_text("There is a problem")).to_be_visible()
        checked.check()
        page.goto("/login")
        page.get_by_label("Email").fill("di@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        for path in ("/dashboard", "/settings", "/admin", "/tracks/basics/intro"):
            page.goto(path)
            checked.check()
        problems += checked.problems
        context.close()
    assert not problems, "\n".join(problems)


def test_a_lessons_check_and_project_form_pass_axe_before_and_after_an_attempt(
        app, server, site, browser):
    """The pages of lessons that ask for more (tests/helpers/content.checked_track), signed out,
    enrolled, refused and graded, in light and dark."""
    from tests.helpers.content import checked_track

    checked_track(site)
    result = app.test_cli_runner().invoke(args=["academy", "content", "sync", str(site)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        make_user(email="ev@example.org")
    problems = []
    for scheme in ("light", "dark"):
        context = browser.new_context(base_url=server, color_scheme=scheme)
        page = context.new_page()
        checked = Checked(page)
        for path in ("/tracks/projects/quiz", "/tracks/projects/build"):  # signed out: to read
            page.goto(path)
            checked.check()
        page.goto("/login")
        page.get_by_label("Email").fill("ev@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto("/tracks/projects")
        if scheme == "light":
            page.get_by_role("button", name="Enroll").click()
        page.goto("/tracks/projects/quiz")
        checked.check()  # the check, before an attempt
        page.get_by_role("button", name="Submit answers").click()  # nothing chosen
        expect(page.locator(".error-summary")).to_be_focused()
        checked.check()
        page.get_by_label("Precision").check()
        page.get_by_label("Scaling with statistics of all rows").check()
        page.get_by_role("button", name="Submit answers").click()
        expect(page.get_by_text("not passed yet")).to_be_visible()
        expect(page.locator(".check__result")).to_be_focused()
        checked.check()  # after a wrong attempt: every choice explained
        page.goto("/tracks/projects/build")
        checked.check()
        page.get_by_label("Link", exact=True).fill("https://gitlab.com/ada/fraud-model")
        page.get_by_role("button", name="Submit evidence").click()
        expect(page.locator(".error-summary")).to_be_focused()
        checked.check()
        problems += checked.problems
        context.close()
    assert not problems, "\n".join(problems)
