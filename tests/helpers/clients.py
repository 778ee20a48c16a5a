"""A learner as an API client sees it: a cookie session and its CSRF token, or a Bearer token."""
from __future__ import annotations

from tests.helpers.factories import PASSWORD, make_user

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class Learner:
    def __init__(self, client, user=None, email: str | None = None, password: str = PASSWORD):
        self.client = client
        self.email = email or (user.email if user else None)
        self.user_id = user.id if user else None
        self.password = password
        self.csrf: str | None = None
        self.bearer: str | None = None

    def login(self, remember: bool = False):
        response = self.client.post("/api/v1/auth/login", json={
            "email": self.email, "password": self.password, "remember": remember})
        assert response.status_code == 200, response.get_json()
        self.csrf = response.get_json()["csrf_token"]
        return response

    def request(self, method: str, path: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        if self.bearer:
            headers.setdefault("Authorization", f"Bearer {self.bearer}")
        elif method in UNSAFE and self.csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # What learners do most.
    def enroll(self, track: str):
        return self.post("/api/v1/enrollments", json={"track": track})

    def complete(self, track: str, lesson: str):
        return self.put(f"/api/v1/enrollments/{track}/lessons/{lesson}", json={"status": "completed"})


def signed_in(app, bearer: bool = False, **user_fields) -> Learner:
    """A verified learner signed in with a cookie session, on their own test client.

    ``bearer=True`` switches to a personal access token: tests that travel in time need it,
    because a session cookie signed "in the future" is rightly refused.
    """
    with app.app_context():
        user = make_user(**user_fields)
        email, user_id = user.email, user.id
    learner = Learner(app.test_client(), email=email)
    learner.user_id = user_id
    learner.login()
    if bearer:
        learner.bearer = learner.post("/api/v1/auth/tokens", json={"name": "tests"}).get_json()["token"]
    return learner
