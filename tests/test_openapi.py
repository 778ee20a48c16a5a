"""``/api/v1/openapi.json`` is a valid OpenAPI 3 document of the routes the app serves."""
from openapi_spec_validator import validate


def test_openapi_document_is_valid(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    served = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    documented = {"/api/v1" + path.replace("{", "<").replace("}", ">")
                  if not path.startswith("/api/v1") else path.replace("{", "<").replace("}", ">")
                  for path in spec["paths"]}
    assert served - {"/api/v1/openapi.json"} <= documented
