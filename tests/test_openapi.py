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


def _spec(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield method, path, operation


def _problem_response(spec, response: dict) -> dict:
    name = response["$ref"].rsplit("/", 1)[1]
    return spec["components"]["responses"][name]["content"]["application/problem+json"]


def test_both_ways_of_signing_in_are_declared(client):
    spec = _spec(client)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["cookieAuth"]["in"] == "cookie" and schemes["cookieAuth"]["name"] == "session"
    assert schemes["csrfToken"] == {**schemes["csrfToken"], "in": "header",
                                    "name": "X-CSRF-Token"}
    me = spec["paths"]["/api/v1/me"]
    assert {"cookieAuth": []} in me["get"]["security"]
    assert {"cookieAuth": [], "csrfToken": []} in me["patch"]["security"]
    tokens = spec["paths"]["/api/v1/auth/tokens"]["post"]["security"]
    assert {"bearerAuth": ["account"]} in tokens  # the scope a token needs
    assert spec["paths"]["/api/v1/tracks"]["get"]["security"] == []  # public


def test_every_error_an_operation_can_answer_is_documented_as_a_problem(client):
    spec = _spec(client)
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        needed = set()
        if operation.get("security"):
            needed.add("401")
        if "requestBody" in operation:
            needed |= {"400", "413", "415", "422"}
        if "{" in path:
            needed.add("404")
        assert needed <= set(responses), (method, path, needed - set(responses))
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                content = _problem_response(spec, response)
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
    rate_limited = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "429" in rate_limited
    assert "409" in spec["paths"]["/api/v1/auth/register"]["post"]["responses"]


def test_every_timestamp_is_a_date_time(client):
    spec = _spec(client)
    untyped = [f"{name}.{prop}" for name, schema in spec["components"]["schemas"].items()
               for prop, field in schema.get("properties", {}).items()
               if prop.endswith("_at") and field.get("format") != "date-time"]
    assert not untyped


def test_no_schema_is_documented_for_nothing(client):
    spec = _spec(client)
    text = str(spec["paths"]) + str(spec["components"].get("responses", {}))
    unused = [name for name in spec["components"]["schemas"]
              if f"#/components/schemas/{name}'" not in text
              and not any(f"#/components/schemas/{name}'" in str(other)
                          for other in spec["components"]["schemas"].values())]
    assert not unused
