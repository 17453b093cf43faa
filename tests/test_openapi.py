CATALOGUE_PATHS = {
    "/api/v1/artisans/me": {"get", "put"},
    "/api/v1/artisans/{artisan_id}": {"get"},
    "/api/v1/products": {"get", "post"},
    "/api/v1/products/{product_id}": {"get", "patch", "delete"},
    "/api/v1/products/{product_id}/images": {"post"},
    "/api/v1/crafts": {"get"},
    "/api/v1/currencies": {"get"},
    "/api/v1/operator/fx/{currency}": {"put", "delete"},
}


def test_openapi_lists_the_catalogue_with_request_schemas(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    for path, methods in CATALOGUE_PATHS.items():
        assert methods <= set(document["paths"][path]), path

    schemas = document["components"]["schemas"]
    create = document["paths"]["/api/v1/products"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    product_in = schemas[ref.rsplit("/", 1)[1]]
    assert {"title", "craft", "price", "stock", "weight_g", "dimensions_mm"} <= set(
        product_in["required"])
    assert create["security"] == [{"bearer": []}]
    assert "201" in create["responses"]

    patch = document["paths"]["/api/v1/products/{product_id}"]["patch"]
    assert "requestBody" in patch
    profile = document["paths"]["/api/v1/artisans/me"]["put"]
    assert profile["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ProfileIn")

    listing = document["paths"]["/api/v1/products"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {"q", "craft", "material", "technique", "artisan", "verified", "min_price",
            "max_price", "currency", "ships_to", "sort", "limit", "cursor", "lang"} <= names
    assert listing["responses"]["default"]["content"]["application/problem+json"]


def test_api_docs_render(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/api/v1/products" in page and "Sheber API" in page
