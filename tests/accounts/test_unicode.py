"""Unicode that looks like something else: look-alike addresses, invisible characters in names,
and zone names that are not places."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from academy.accounts.models import User
from tests.helpers.clients import Learner
from tests.helpers.factories import PASSWORD, make_user
from tests.helpers.mail import outbox

SECRET = "a long enough secret"
FULL_WIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45@example.org"  # ａｌｉｃｅ@example.org


def register(client, **fields):
    body = {"email": "new@example.org", "password": SECRET, "display_name": "New", **fields}
    return client.post("/api/v1/auth/register", json=body)


@pytest.mark.parametrize("look_alike", [
    FULL_WIDTH_ALICE,
    "ALICE@example.org",
    "ＡＬＩＣＥ@ｅｘａｍｐｌｅ.org",  # full-width capitals, domain too
    "alice\uff20example.org",  # a full-width @
])
def test_a_look_alike_of_a_registered_address_is_a_409(client, database, look_alike):
    with database():
        make_user(email="alice@example.org")
    response = register(client, email=look_alike)
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["errors"] == {"email": ["Already registered."]}
    with database() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_a_full_width_address_registers_as_its_plain_form(client):
    response = register(client, email="\uff42\uff4f\uff42@example.org")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["email"] == "bob@example.org"


def test_signing_in_with_the_full_width_form_reaches_the_same_account(app, database):
    with database():
        user_id = make_user(email="alice@example.org").id
    learner = Learner(app.test_client(), email=FULL_WIDTH_ALICE, password=PASSWORD)
    answer = learner.login().get_json()
    assert answer["user"]["id"] == user_id and answer["user"]["email"] == "alice@example.org"


def test_a_reset_for_the_full_width_form_goes_to_the_account(app, client, database):
    with database():
        make_user(email="alice@example.org")
    assert client.post("/api/v1/auth/password-reset", json={"email": FULL_WIDTH_ALICE}).status_code == 202
    with app.app_context():
        assert [row.to_address for row in outbox(template="password_reset")] == ["alice@example.org"]


REFUSED_NAMES = [
    "Ada\x00",
    "Ada\u202eecilA",  # right-to-left override
    *[f"Ada{chr(c)}x" for c in range(0x202A, 0x202F)],  # embeddings and overrides
    *[f"Ada{chr(c)}x" for c in range(0x2066, 0x206A)],  # isolates
    "Ada\u200bLovelace",  # zero-width space
    "Ada\ufeff",  # byte order mark
    "Ada\x07",  # bell, a C0 control
    "Ada\x85",  # next line, a C1 control
    "Ada\nLovelace",
    "Ada\u2028Lovelace",  # line separator
]
ACCEPTED_NAMES = ["Zoë", "Ada Lovelace", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # ZWNJ
                  "\u0915\u094d\u200d\u0937", "👩\u200d💻", "李小龍"]


@pytest.mark.parametrize("name", REFUSED_NAMES, ids=ascii)
def test_names_with_control_or_bidi_characters_are_refused(client, learner, name):
    response = register(client, display_name=name)
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["errors"]) == ["display_name"]
    patched = learner.patch("/api/v1/me", json={"display_name": name})
    assert patched.status_code == 422
    assert list(patched.get_json()["errors"]) == ["display_name"]
    assert "U+" in patched.get_json()["errors"]["display_name"][0]


@pytest.mark.parametrize("name", ACCEPTED_NAMES, ids=ascii)
def test_names_in_every_script_including_joiners_are_kept(learner, name):
    response = learner.patch("/api/v1/me", json={"display_name": name})
    assert response.status_code == 200, response.get_json()
    assert learner.get("/api/v1/me").get_json()["display_name"] == name


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "posix/Europe/Berlin",
                                  "right/UTC", "right/Europe/Berlin", "Europe/Nowhere"])
def test_zone_names_that_are_not_places_are_refused(client, learner, zone):
    response = register(client, timezone=zone)
    assert response.status_code == 422
    assert "Not an IANA time zone" in response.get_json()["errors"]["timezone"][0]
    patched = learner.patch("/api/v1/me", json={"timezone": zone})
    assert patched.status_code == 422 and list(patched.get_json()["errors"]) == ["timezone"]


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires",
                                  "Asia/Calcutta", "Etc/GMT-14"])
def test_canonical_zones_and_common_links_are_accepted(client, learner, zone):
    response = register(client, email=f"{zone.replace('/', '.').lower()}@example.org", timezone=zone)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["timezone"] == zone
    patched = learner.patch("/api/v1/me", json={"timezone": zone})
    assert patched.status_code == 200 and patched.get_json()["timezone"] == zone


def test_look_alike_forms_of_one_address_share_its_sign_in_limit(app, database):
    """Each form now reaches the account, so each must count against it: otherwise every mix of
    full-width and plain letters would be ten more guesses."""
    with database():
        make_user(email="alice@example.org")
    client = app.test_client()
    forms = ["".join(chr(ord(c) + 0xFEE0) if i >> n & 1 else c for n, c in enumerate("alice"))
             + "@example.org" for i in range(1, 11)]  # ten different mixes, from ten addresses
    for n, form in enumerate(forms):
        answer = client.post("/api/v1/auth/login", json={"email": form, "password": "wrong guess!!"},
                             environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
        assert answer.status_code == 401
    last = client.post("/api/v1/auth/login", json={"email": "alice@example.org", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.99"})
    assert last.status_code == 429
