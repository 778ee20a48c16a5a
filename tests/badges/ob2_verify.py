"""Run by the verifier's own Python (``ACADEMY_TEST_OB_VERIFIER``), not by pytest: verify one
hosted assertion with 1EdTech's ``openbadges`` package and print its report as JSON.

The machine cannot reach w3id.org, so the Open Badges v2 JSON-LD context is served from the
copy the verifier ships (``openbadges_context``, the one its own tests use); every other URL,
our assertion, badge class, issuer and image, is fetched over real HTTP.
"""
import json
import sys

import requests
from openbadges import verify
from openbadges.verifier.openbadges_context import (
    OPENBADGES_CONTEXT_V2_DICT,
    OPENBADGES_CONTEXT_V2_URI,
)

_get = requests.Session.get


def _get_with_context(session, url, *args, **kwargs):
    if url.rstrip("/") == OPENBADGES_CONTEXT_V2_URI.rstrip("/"):
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response._content = json.dumps(OPENBADGES_CONTEXT_V2_DICT).encode()
        response.headers["Content-Type"] = "application/ld+json"
        response.from_cache = False
        return response
    return _get(session, url, *args, **kwargs)


requests.Session.get = _get_with_context
report = verify(sys.argv[1], recipient_profile={"email": sys.argv[2]}, use_cache=False)
print(json.dumps(report))
