"""`/openapi.json` is a valid description that Swagger's "Authorize" and "Try it out"
can use: every keyed operation says how it is authenticated, every body has a schema
and an example, and the collection examples are accepted as they stand."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.conftest import LiveServer, make_key, sqlite_settings
from trustable.bootstrap import Trustable, bootstrap

Operation = tuple[str, str, dict[str, Any]]
WRITES = {"post", "put", "patch"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Trustable, LiveServer]]:
    app = bootstrap(sqlite_settings(Path(tmp_path_factory.mktemp("openapi"))))
    with LiveServer(app) as server:
        yield app, server
    app.close()


@pytest.fixture(scope="module")
def document(served: tuple[Trustable, LiveServer]) -> dict[str, Any]:
    answer = httpx.get(f"{served[1].url}/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        (method, path, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    ]


def example_of(document: dict[str, Any], op: dict[str, Any]) -> Any:
    """The body's example: on the media type, or on the schema it refers to."""
    media = op["requestBody"]["content"]["application/json"]
    if "example" in media:
        return media["example"]
    schema = media["schema"]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    for alternative in [schema, *schema.get("anyOf", [])]:
        if "$ref" in alternative:
            name = alternative["$ref"].rsplit("/", 1)[1]
            alternative = document["components"]["schemas"][name]
        if alternative.get("examples"):
            return alternative["examples"][0]
    return None


def keyed(op: dict[str, Any]) -> bool:
    """Declared to need a key: a security requirement without the empty alternative."""
    requirements = op.get("security", [])
    return bool(requirements) and {} not in requirements


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x0", path)


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.")


def test_it_declares_basic_with_the_write_key_and_bearer(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["writeKey"] == {**schemes["writeKey"], "type": "http", "scheme": "basic"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "http", "scheme": "bearer"}


def test_every_body_has_a_schema_and_an_example(document: dict[str, Any]) -> None:
    takes_body = [(m, p, op) for m, p, op in operations(document) if "requestBody" in op]
    assert {p for _, p, _ in takes_body} >= {"/v1/batch", "/v1/track", "/v1/consents"}
    for method, path, op in operations(document):
        if method in WRITES and path.startswith("/v1/") and not path.endswith(
            ("/revoke", "/retry", "/process", "/approve")
        ):
            assert "requestBody" in op, (method, path)
    for method, path, op in takes_body:
        assert op["requestBody"]["content"]["application/json"]["schema"], (method, path)
        assert example_of(document, op) is not None, (method, path)


def test_what_the_document_says_of_keys_is_what_the_service_does(
    served: tuple[Trustable, LiveServer], document: dict[str, Any]
) -> None:
    """Without a key, a keyed operation answers 401 and an open one does not; with an
    admin key, sent either way the document offers, no keyed operation answers 401."""
    app, server = served
    admin = make_key(app, "admin", name="openapi-admin")
    basic = "Basic " + base64.b64encode(f"{admin}:".encode()).decode()
    with httpx.Client(base_url=server.url) as client:
        for method, path, op in operations(document):
            body = example_of(document, op) if "requestBody" in op else None
            bare = client.request(method, filled(path), json=body)
            if keyed(op):
                assert bare.status_code == 401, (method, path, bare.text)
                for header in (f"Bearer {admin}", basic):
                    answer = client.request(
                        method, filled(path), json=body, headers={"authorization": header}
                    )
                    assert answer.status_code != 401, (method, path, answer.text)
            elif not path.startswith("/v1/") or path.startswith("/v1/requests/"):
                assert bare.status_code != 401, (method, path)


def test_the_collection_examples_are_accepted_as_written(
    served: tuple[Trustable, LiveServer], document: dict[str, Any]
) -> None:
    app, server = served
    key = make_key(app, "collect:server", name="openapi-backend")
    order = ["identify", "track", "page", "screen", "group", "alias", "batch"]
    with httpx.Client(base_url=server.url, auth=(key, "")) as client:
        for kind in order:
            op = document["paths"][f"/v1/{kind}"]["post"]
            assert op["security"] == [{"writeKey": []}, {}]
            answer = client.post(f"/v1/{kind}", json=example_of(document, op))
            assert answer.status_code == 200, (kind, answer.text)
            counts = answer.json()
            assert counts["success"] and counts["received"] >= 1, (kind, counts)
            # An alias joins two histories and keeps no event of its own.
            assert counts["stored"] == (0 if kind == "alias" else counts["received"]), counts
            assert counts["joins_refused"] == 0, (kind, counts)
