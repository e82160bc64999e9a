from __future__ import annotations

import httpx


async def test_openapi_json_lists_the_api(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "CampoTech API"
    assert "/health/ready" in spec["paths"]


async def test_docs_page_works_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/schema")
    assert page.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    asset = await client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert 'campotech_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "campotech_http_request_duration_seconds_bucket" in text


async def test_refused_authentication_is_counted_with_its_own_status(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/users")
    assert response.status_code == 401
    text = (await client.get("/metrics")).text
    assert 'campotech_http_requests_total{method="GET",route="/api/v1/users",status="401"}' in text
    assert 'route="/api/v1/users",status="500"' not in text
