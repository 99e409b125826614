"""The published contract: operation ids, problem responses, the OAuth2 flow Swagger uses."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from app.bootstrap.settings import AppSettings, HttpSettings, Settings
from tests.integration.conftest import ClientFactory
from tests.integration.helpers import PASSWORD, sign_up


async def test_openapi_documents_problem_responses_and_the_oauth2_password_flow(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    operation_ids = [
        operation["operationId"] for path in spec["paths"].values() for operation in path.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert "users-sign_up" in operation_ids
    sign_up_responses = spec["paths"]["/api/v1/users"]["post"]["responses"]
    assert {"201", "409", "422"} <= set(sign_up_responses)
    assert "application/problem+json" in sign_up_responses["409"]["content"]
    schemes = spec["components"]["securitySchemes"]
    flow = next(iter(schemes.values()))["flows"]["password"]
    assert flow["tokenUrl"] == "/api/v1/auth/token"
    me = spec["paths"]["/api/v1/users/me"]["get"]
    assert me.get("security"), "protected operations show Swagger's lock"


async def test_swagger_ui_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text


async def test_oauth2_token_endpoint_accepts_the_form_swagger_sends(
    client: httpx.AsyncClient,
) -> None:
    await sign_up(client, "swagger")
    granted = await client.post(
        "/api/v1/auth/token", data={"username": "swagger", "password": PASSWORD}
    )
    refused = await client.post(
        "/api/v1/auth/token", data={"username": "swagger", "password": "not-" + PASSWORD}
    )
    assert granted.status_code == 200
    token = granted.json()
    assert token["token_type"] == "bearer"
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert me.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_credentials"


@pytest.mark.owasp("API8", "API9")
@pytest.mark.parametrize(
    ("env", "docs_enabled", "served"),
    [
        ("production", None, False),  # security review, finding 9: off unless asked for
        ("staging", None, False),
        ("development", None, True),
        ("production", True, True),
        ("development", False, False),
    ],
)
async def test_docs_are_served_by_default_only_in_development(
    make_client: ClientFactory,
    settings: Settings,
    env: str,
    docs_enabled: bool | None,
    served: bool,
) -> None:
    client = await make_client(
        dataclasses.replace(
            settings,
            app=AppSettings(env=env),
            http=HttpSettings(docs_enabled=docs_enabled),
        )
    )
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await client.get(path)).status_code == (200 if served else 404), path
    # Metrics have a port of their own unless asked for here (see test_gunicorn.py).
    assert (await client.get("/metrics")).status_code == 404


async def test_each_create_links_to_the_operations_on_what_it_made(
    client: httpx.AsyncClient,
) -> None:
    """Links name real operations and parameters: schemathesis's stateful phase follows them."""
    spec = (await client.get("/openapi.json")).json()
    operations = {
        operation["operationId"]: operation
        for path in spec["paths"].values()
        for operation in path.values()
    }
    linked = {
        operation["operationId"]: response["links"]
        for operation in operations.values()
        for response in operation["responses"].values()
        if "links" in response
    }
    assert set(linked) == {
        "users-sign_up",
        "products-create_product",
        "orders-place_order",
        "order-exports-start_export",
    }
    for source, targets in linked.items():
        for name, link in targets.items():
            target = operations[link["operationId"]]
            path_parameters = {p["name"] for p in target["parameters"] if p["in"] == "path"}
            assert set(link["parameters"]) <= path_parameters, (source, name)
            assert set(link["parameters"].values()) == {"$response.body#/id"}, (source, name)
    assert "orders-pay_order" in linked["orders-place_order"]
