import pytest

from marketplace.catalog.models import ProductImage
from marketplace.storage import get_storage
from tests.catalog.conftest import count, image_bytes
from tests.factories import auth_headers, make_product


def multipart(data: bytes, filename: str) -> tuple[bytes, str]:
    # Encoded by hand: the test client would spool a large body to a file it never closes.
    boundary = "sheber-test-boundary"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
        f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def upload(client, product, data: bytes, filename: str = "photo.jpg", headers=None):
    body, content_type = multipart(data, filename)
    return client.post(f"/api/v1/products/{product.id}/images", data=body,
                       content_type=content_type,
                       headers=headers or auth_headers(product.artisan))


@pytest.mark.parametrize(("kind", "content_type"), [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
])
def test_image_type_is_judged_by_content_not_by_name(client, kind, content_type):
    product = make_product()
    response = upload(client, product, image_bytes(kind, (80, 60)), filename="picture.gif")
    assert response.status_code == 201
    body = response.get_json()
    assert body["content_type"] == content_type
    assert (body["width"], body["height"]) == (80, 60)
    item = client.get(f"/api/v1/products/{product.id}").get_json()
    assert [image["id"] for image in item["images"]] == [body["id"]]


def test_media_is_served_with_long_cache_and_etag(client):
    product = make_product()
    data = image_bytes("PNG")
    url = upload(client, product, data).get_json()["url"]
    with client.get(url) as response:
        assert response.status_code == 200
        assert response.data == data
        assert response.mimetype == "image/png"
        assert response.cache_control.max_age >= 365 * 24 * 3600
        assert response.cache_control.public and response.cache_control.immutable
        etag = response.headers["ETag"]
    with client.get(url, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_unknown_media_key_is_404(client):
    assert client.get("/media/" + "0" * 64 + ".png").status_code == 404
    assert client.get("/media/..%2Fsecret_key").status_code == 404


def test_non_image_is_422_and_nothing_is_written(client):
    product = make_product()
    response = upload(client, product, b"GIF89a? no, just text pretending", filename="x.jpg")
    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]
    assert count(ProductImage) == 0


def test_gif_is_a_real_image_but_not_accepted(client):
    product = make_product()
    assert upload(client, product, image_bytes("GIF")).status_code == 422


def test_truncated_image_is_422(client):
    product = make_product()
    data = image_bytes("JPEG", (400, 300))
    assert upload(client, product, data[: len(data) // 2]).status_code == 422
    assert count(ProductImage) == 0


def test_image_over_10_mb_is_413(client, app):
    product = make_product()
    limit = app.config["MAX_IMAGE_BYTES"]
    padded = image_bytes("PNG") + b"\0" * (limit + 1)  # just over the limit, under the body cap
    response = upload(client, product, padded[: limit + 1])
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert count(ProductImage) == 0


def test_request_body_far_over_the_limit_is_413(client, app):
    product = make_product()
    response = upload(client, product, b"\0" * (app.config["MAX_CONTENT_LENGTH"] + 1024))
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


def test_missing_file_field_is_422(client):
    product = make_product()
    response = client.post(f"/api/v1/products/{product.id}/images", data={},
                           content_type="multipart/form-data",
                           headers=auth_headers(product.artisan))
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"file": ["required"]}


def test_same_bytes_are_stored_once_under_their_hash(client):
    product = make_product()
    data = image_bytes("PNG")
    first = upload(client, product, data).get_json()
    second = upload(client, product, data).get_json()
    assert first["id"] != second["id"] and first["url"] == second["url"]
    key = first["url"].rsplit("/", 1)[1]
    assert get_storage().path(key).read_bytes() == data
    assert (first["position"], second["position"]) == (0, 1)


def test_owner_deletes_an_image(client):
    product = make_product()
    image = upload(client, product, image_bytes("PNG")).get_json()
    response = client.delete(f"/api/v1/products/{product.id}/images/{image['id']}",
                             headers=auth_headers(product.artisan))
    assert response.status_code == 204
    assert count(ProductImage) == 0
