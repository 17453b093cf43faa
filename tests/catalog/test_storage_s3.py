"""The S3 backend against a real S3 API server (moto_server, started by tests/plugins/s3.py)."""

import io

import exifread
import pytest
import requests
from PIL import Image

from marketplace.storage import IMMUTABLE, S3Storage, content_key, storage_from_config
from tests.catalog.test_images import phone_photo, process_all, upload
from tests.factories import make_product


@pytest.fixture
def s3_storage(s3_bucket):
    endpoint, bucket, _client = s3_bucket
    return S3Storage(bucket, prefix="media", endpoint_url=endpoint, region="us-east-1",
                     access_key="testing", secret_key="testing", signed_url_seconds=600)


@pytest.fixture
def app_on_s3(app, s3_storage, monkeypatch):
    monkeypatch.setitem(app.extensions, "sheber.storage", s3_storage)
    return s3_storage


def test_settings_choose_the_bucket(s3_bucket):
    endpoint, bucket, _client = s3_bucket
    storage = storage_from_config({
        "STORAGE_URL": f"s3://{bucket}/photos", "S3_ENDPOINT_URL": endpoint,
        "AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "MEDIA_BASE_URL": "https://cdn.sheber.kz/",
        "UPLOAD_FOLDER": "unused"})
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == (bucket, "photos")
    key = storage.save(b"\x89PNG fake", "png")
    assert storage.url(key) == f"https://cdn.sheber.kz/photos/{key}"
    with pytest.raises(ValueError):
        storage_from_config({"STORAGE_URL": "ftp://bucket", "UPLOAD_FOLDER": "x"})


def test_files_go_to_the_bucket_public_and_private_apart(s3_storage, s3_bucket):
    _endpoint, bucket, client = s3_bucket
    data = b"some image bytes"
    key = s3_storage.save(data, "jpg")
    assert key == content_key(data, "jpg")
    head = client.head_object(Bucket=bucket, Key=f"media/{key}")
    assert head["ContentType"] == "image/jpeg" and head["CacheControl"] == IMMUTABLE
    secret = s3_storage.save(b"raw upload", "jpg", private=True)
    client.head_object(Bucket=bucket, Key=f"media/private/{secret}")
    assert s3_storage.read(secret) is None and s3_storage.read(secret, private=True)
    assert s3_storage.exists(key) and not s3_storage.exists(secret)
    s3_storage.delete(key)
    assert not s3_storage.exists(key) and s3_storage.read(key) is None


def test_a_private_bucket_serves_by_signed_url(s3_storage):
    key = s3_storage.save(b"signed bytes", "webp")
    url = s3_storage.url(key)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    assert requests.get(url, timeout=5).content == b"signed bytes"
    unsigned = url.split("?")[0]
    assert requests.get(unsigned.replace(key, "0" * 64 + ".webp"), timeout=5).status_code >= 400


def test_a_photo_is_stored_processed_and_served_through_the_bucket(client, app_on_s3,
                                                                    s3_bucket):
    _endpoint, bucket, s3 = s3_bucket
    product = make_product()
    assert upload(client, product, phone_photo((1500, 1000))).status_code == 201
    process_all()
    image = client.get(f"/api/v1/products/{product.id}").get_json()["images"][0]
    assert image["state"] == "ready" and len(image["variants"]) == 8  # 320-1280, 1500
    stored = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert not any(key.startswith("media/private/") for key in stored)  # the upload is gone
    for variant in image["variants"]:
        response = requests.get(variant["url"], timeout=5)  # signed, straight from the bucket
        assert response.status_code == 200
        assert exifread.process_file(io.BytesIO(response.content), details=False) == {}
        with Image.open(io.BytesIO(response.content)) as picture:
            assert picture.size == (variant["width"], variant["height"])
        key = variant["url"].split("?")[0].rsplit("/", 1)[1]
        with client.get(f"/media/{key}") as through_app:  # development: through the app
            assert through_app.status_code == 200 and through_app.data == response.content
            assert through_app.cache_control.immutable
