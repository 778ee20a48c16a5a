"""Rate limits: guessing passwords, mass sign-up and reset spam meet 429 with Retry-After."""
from __future__ import annotations

import re

import pytest

from tests.helpers.clients import signed_in
from tests.helpers.concurrency import at_once
from tests.helpers.factories import PASSWORD
from tests.helpers.services import TEST_REDIS_URL


def login(client, email, password="wrong password!", ip="203.0.113.7"):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def assert_429(response):
    assert response.status_code == 429
    assert response.content_type == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0


def test_ten_failed_logins_per_account_then_429_even_with_the_right_password(app, catalog):
    learner = signed_in(app)
    client = app.test_client()
    for i in range(10):  # from ten different addresses: the account still adds them up
        assert login(client, learner.email, ip=f"198.51.100.{i}").status_code == 401
    assert_429(login(client, learner.email, PASSWORD, ip="198.51.100.99"))


def test_ten_failed_logins_per_ip_across_accounts(app, catalog):
    client = app.test_client()
    for i in range(10):
        assert login(client, f"guess{i}@example.org").status_code == 401
    assert_429(login(client, "guess-eleven@example.org"))
    # Another address is not affected.
    assert login(client, "guess-eleven@example.org", ip="192.0.2.1").status_code == 401


def test_successful_logins_do_not_count(app, catalog):
    learner = signed_in(app)
    for _ in range(12):  # each from a new browser: a signed-in one would need a CSRF token
        assert login(app.test_client(), learner.email, PASSWORD).status_code == 200


def test_registration_is_limited_per_address(app, catalog):
    client = app.test_client()
    for i in range(10):
        response = client.post("/api/v1/auth/register", json={
            "email": f"new{i}@example.org", "password": "a long enough secret", "display_name": "N"})
        assert response.status_code == 201
    assert_429(client.post("/api/v1/auth/register", json={
        "email": "new10@example.org", "password": "a long enough secret", "display_name": "N"}))


def test_password_reset_is_limited_per_account(app, catalog):
    client = app.test_client()
    for i in range(5):
        assert client.post("/api/v1/auth/password-reset", json={"email": "x@example.org"},
                           environ_base={"REMOTE_ADDR": f"198.51.100.{i}"}).status_code == 202
    assert_429(client.post("/api/v1/auth/password-reset", json={"email": "X@example.org "},
                           environ_base={"REMOTE_ADDR": "198.51.100.50"}))


def test_token_creation_is_limited_per_learner(app, catalog):
    learner = signed_in(app)
    for i in range(20):
        assert learner.post("/api/v1/auth/tokens", json={"name": f"t{i}"}).status_code == 201
    assert_429(learner.post("/api/v1/auth/tokens", json={"name": "one too many"}))
    assert learner.get("/api/v1/auth/tokens?per_page=100").status_code == 200  # listing is not limited


def test_limits_can_be_turned_off_for_load_tests(app_factory, catalog):
    app = app_factory(RATELIMIT_ENABLED=False)
    client = app.test_client()
    for _ in range(15):
        assert login(client, "someone@example.org").status_code == 401


def test_with_redis_down_limits_fall_back_to_memory(app_factory, catalog):
    app = app_factory(REDIS_URL="redis://127.0.0.1:1/0", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    client = app.test_client()
    for _ in range(10):
        assert login(client, "someone@example.org").status_code == 401
    assert_429(login(client, "someone@example.org"))


@pytest.mark.skipif(not TEST_REDIS_URL, reason="needs Redis: set ACADEMY_TEST_REDIS_URL (CI does)")
def test_limits_are_shared_by_every_web_process(app_factory, catalog):
    first, second = app_factory().test_client(), app_factory().test_client()
    for i in range(10):
        assert login(first if i % 2 else second, "shared@example.org").status_code == 401
    assert_429(login(first, "shared@example.org"))


def test_parallel_guesses_check_no_more_passwords_than_the_limit(app, catalog):
    """Counted before the password is hashed: 30 guesses sent at once, 10 are checked."""
    learner = signed_in(app)
    answers = at_once(30, lambda: login(app.test_client(), learner.email).status_code)
    assert answers.count(401) == 10, answers
    assert answers.count(429) == 20, answers


def test_a_429_says_in_words_how_long_to_wait(app, catalog):
    client = app.test_client()
    for i in range(10):
        login(client, f"guess{i}@example.org")
    answer = login(client, "guess@example.org")
    detail = answer.get_json()["detail"]
    assert re.fullmatch(r"Too many attempts; try again in [1-5] minutes?\.", detail), detail
    assert 1 <= int(answer.headers["Retry-After"]) <= 300


def test_the_sign_in_page_and_the_api_share_one_count(app, catalog):
    learner = signed_in(app)
    client = app.test_client()
    for _ in range(5):
        assert login(client, learner.email).status_code == 401
    csrf = client.get("/api/v1/auth/csrf").get_json()["csrf_token"]
    for _ in range(5):
        page = client.post("/login", data={"email": learner.email, "password": "wrong one!!",
                                           "csrf_token": csrf},
                           environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert page.status_code == 401
    refused = login(client, learner.email, PASSWORD)
    assert_429(refused)


def test_deleting_the_account_checks_at_most_ten_wrong_passwords(app, catalog):
    learner = signed_in(app, bearer=False)
    token = learner.post("/api/v1/auth/tokens", json={
        "name": "t", "scopes": ["learning", "account"]}).get_json()["token"]
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    for _ in range(10):
        answer = client.delete("/api/v1/me", headers=headers, json={"password": "not it at all"})
        assert answer.status_code == 422
    assert_429(client.delete("/api/v1/me", headers=headers, json={"password": PASSWORD}))
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # still there


def test_sign_up_forms_refused_by_validation_cost_no_attempt(app, catalog):
    client = app.test_client()
    for _ in range(12):  # a front-end developer getting the form right
        answer = client.post("/api/v1/auth/register", json={"email": "not an address",
                                                            "password": "x", "display_name": ""})
        assert answer.status_code == 422
    for i in range(10):
        answer = client.post("/api/v1/auth/register", json={
            "email": f"fixed{i}@example.org", "password": "a long enough secret",
            "display_name": "N"})
        assert answer.status_code == 201
    assert_429(client.post("/api/v1/auth/register", json={
        "email": "fixed10@example.org", "password": "a long enough secret", "display_name": "N"}))
