"""``/api/v1/openapi.json`` is a valid OpenAPI 3 document of every route the API serves."""
import re

from openapi_spec_validator import validate


def test_openapi_document_is_valid(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    served = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method)
        for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    } - {("/api/v1/openapi.json", "GET")}
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item
                  if method != "parameters"}
    assert served <= documented, served - documented
