from __future__ import annotations

from starlette.testclient import TestClient

NEW_MODEL = {
    "id": "cheap-chat",
    "provider": "simulated",
    "upstream_model": "cheap",
    "price": {"input_per_mtok": "0.05", "output_per_mtok": 0.08},
    "context_window": 8192,
    "capabilities": ["json"],
    "quality": {"default": 0.5},
}


def test_admin_key_is_required(client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        response = client.get("/api/v1/models", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"


def test_demo_models_are_listed_with_catalog_prices(client: TestClient) -> None:
    models = client.get("/api/v1/models").json()["models"]
    by_id = {m["id"]: m for m in models}
    assert by_id["gpt-4o"]["price"]["input_per_mtok"] == "2.5"
    assert by_id["gpt-4o"]["price"]["source"] == "catalog"
    assert by_id["gpt-4o"]["source"] == "config"


def test_model_crud_round_trip(client: TestClient) -> None:
    created = client.post("/api/v1/models", json=NEW_MODEL)
    assert created.status_code == 201, created.text
    assert created.json()["price"]["input_per_mtok"] == "0.05"
    assert client.post("/api/v1/models", json=NEW_MODEL).status_code == 409
    fetched = client.get("/api/v1/models/cheap-chat").json()
    assert fetched["source"] == "api" and fetched["context_window"] == 8192

    changed = {**NEW_MODEL, "context_window": 16384}
    assert client.put("/api/v1/models/cheap-chat", json=changed).json()["context_window"] == 16384
    assert client.delete("/api/v1/models/cheap-chat").status_code == 204
    assert client.get("/api/v1/models/cheap-chat").status_code == 404


def test_dated_price_keeps_history(client: TestClient) -> None:
    client.post("/api/v1/models", json=NEW_MODEL)
    response = client.post(
        "/api/v1/models/cheap-chat/prices",
        json={
            "input_per_mtok": "1",
            "output_per_mtok": "2",
            "effective_from": "2099-01-01T00:00:00Z",
        },
    )
    assert response.status_code == 201
    timeline = response.json()["prices"]
    assert [p["input_per_mtok"] for p in timeline] == ["0.05", "1"]
    # Still the old price now.
    assert client.get("/api/v1/models/cheap-chat").json()["price"]["input_per_mtok"] == "0.05"


def test_bad_model_bodies_name_the_field(client: TestClient) -> None:
    cases = [
        ({**NEW_MODEL, "provider": "nope"}, 400, "provider"),
        ({**NEW_MODEL, "context_window": -1}, 422, "context_window"),
        ({**NEW_MODEL, "capabilites": ["json"]}, 422, "capabilites"),
        (
            {**NEW_MODEL, "price": {"input_per_mtok": "x", "output_per_mtok": 1}},
            422,
            "price.input_per_mtok",
        ),
        ({**NEW_MODEL, "price": None, "upstream_model": "unknown-xyz"}, 400, "price"),
        ({**NEW_MODEL, "quality": {"default": 2}}, 422, "quality.default"),
    ]
    for body, status, param in cases:
        response = client.post("/api/v1/models", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]["param"] == param, response.text


def test_put_with_mismatched_id_is_refused(client: TestClient) -> None:
    client.post("/api/v1/models", json=NEW_MODEL)
    response = client.put("/api/v1/models/cheap-chat", json={**NEW_MODEL, "id": "other"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "id"


def test_malformed_json_is_a_400_not_a_500(client: TestClient) -> None:
    response = client.post(
        "/api/v1/models", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "body"


def test_catalog_search(client: TestClient) -> None:
    found = client.get("/api/v1/catalog", params={"q": "gpt-4o-mini"}).json()["models"]
    assert any(m["catalog_id"] == "openai/gpt-4o-mini" for m in found)
    assert client.get("/api/v1/catalog").status_code == 422


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz", headers={"Authorization": ""}).json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/cost/estimate" in paths and "/api/v1/models/{model_id}" in paths
