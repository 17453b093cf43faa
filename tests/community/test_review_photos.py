"""Review photos through the photo pipeline: a phone's JPEG comes back from every served size
without its GPS (read by exifread and, when installed, exiftool); an SVG and a decompression
bomb are refused and nothing is stored; at most four a review; shown on the product and
workshop pages, hidden with a hidden review, in the account export, and gone (files too) with
a deleted account. The bucket variant runs against a real S3 API server (moto)."""

from __future__ import annotations

import io
import shutil

import exifread
import pytest
import requests
from PIL import Image

from marketplace.community import reviews
from marketplace.community.models import Review
from marketplace.extensions import db
from marketplace.outbox import OutboxEvent
from marketplace.storage import get_storage
from tests.catalog.test_images import exiftool_tags, phone_photo, served
from tests.community.helpers import order_of
from tests.factories import PASSWORD, auth_headers, make_buyer, make_operator, make_product
from tests.storefront.helpers import HTML, csrf_token, sign_in

SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(1)</script><rect width="10" height="10"/></svg>')


def _multipart(files: list[bytes], field: str = "file", extra: dict | None = None):
    boundary = "sheber-review-boundary"
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
             f"{value}\r\n".encode() for name, value in (extra or {}).items()]
    for index, data in enumerate(files):
        parts.append((f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                      f"filename=\"photo{index}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
                      ).encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), \
        f"multipart/form-data; boundary={boundary}"


def _small(colour: tuple[int, int, int], kind: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 90), colour).save(buffer, kind)
    return buffer.getvalue()


def _bomb() -> bytes:
    """A PNG of 12,000 × 12,000 pixels (144 megapixels) in a few kilobytes."""
    buffer = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _reviewed(client):
    product = make_product()
    buyer = make_buyer(name="Anna Schmidt")
    order = order_of(buyer, [product])
    written = client.post(f"/api/v1/orders/{order.id}/lines/{order.lines[0].id}/review",
                          headers=auth_headers(buyer), json={"rating": 5, "text": "Lovely"})
    assert written.status_code == 201
    return product, buyer, written.get_json()["id"]


def _add(client, buyer, review_id: str, files: list[bytes]):
    body, content_type = _multipart(files)
    return client.post(f"/api/v1/reviews/{review_id}/photos", data=body,
                       content_type=content_type, headers=auth_headers(buyer))


def _stored_files() -> int:
    storage = get_storage()
    return sum(1 for path in storage.root.rglob("*") if path.is_file()) \
        if hasattr(storage, "root") and storage.root.exists() else 0


def test_a_review_photo_is_served_without_the_phones_gps(client, tmp_path):
    product, buyer, review_id = _reviewed(client)
    added = _add(client, buyer, review_id, [phone_photo((1500, 1000))])
    assert added.status_code == 201, added.get_json()
    photo = added.get_json()["images"][0]
    assert added.get_json()["photos"] == [photo["url"]]
    assert sorted({max(v["width"], v["height"]) for v in photo["variants"]}) == [
        320, 640, 1280, 1500]
    assert (photo["width"], photo["height"]) == (1500, 1000)
    exiftool = shutil.which("exiftool")
    for variant in photo["variants"]:
        data = served(client, variant["url"])
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.size == (variant["width"], variant["height"])
            assert not picture.getexif()
        assert exifread.process_file(io.BytesIO(data), details=False) == {}
        for needle in (b"PhoneMaker", b"studio at home", b"xmpmeta", b"GPS"):
            assert needle not in data
        if exiftool:
            found = exiftool_tags(data, tmp_path)
            assert [key for key in found if "GPS" in key or key.startswith(
                ("IFD0", "ExifIFD", "XMP"))] == []

    listed = client.get(f"/api/v1/products/{product.id}/reviews").get_json()["items"]
    assert listed[0]["photos"] == [photo["url"]]
    page = client.get(f"/products/{product.id}", headers=HTML).get_data(as_text=True)
    assert f'src="{photo["url"]}"' in page and 'width="1500" height="1000"' in page
    workshop = client.get(f"/artisans/{product.artisan_id}", headers=HTML).get_data(as_text=True)
    assert f'src="{photo["url"]}"' in workshop and "Lovely" in workshop


@pytest.mark.parametrize(("data", "code"), [
    (SVG, "catalog.image_unsupported"),
    (None, "catalog.image_too_many_pixels"),  # the bomb, made in the test
    (b"<html><script>alert(1)</script></html>", "catalog.image_unsupported")])
def test_an_svg_or_a_bomb_is_refused_and_nothing_is_stored(client, data, code):
    product, buyer, review_id = _reviewed(client)
    before = _stored_files()
    refused = _add(client, buyer, review_id, [data if data is not None else _bomb()])
    assert refused.status_code == 422
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.get_json()["code"] in (code, "catalog.image_unsupported")
    assert _stored_files() == before
    db.session.expire_all()
    assert db.session.get(Review, review_id).photos == []


def test_a_review_has_at_most_four_photos_and_only_its_author_adds_them(client):
    _product, buyer, review_id = _reviewed(client)
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0), (0, 200, 200)]
    assert _add(client, buyer, review_id, [_small(c) for c in colours[:3]]).status_code == 201
    too_many = _add(client, buyer, review_id, [_small(c) for c in colours[3:]])
    assert too_many.status_code == 409
    assert too_many.get_json()["code"] == "community.review_photo_limit"
    assert _add(client, buyer, review_id, [_small(colours[3])]).status_code == 201
    assert _add(client, buyer, review_id, [_small(colours[4])]).status_code == 409
    stranger = _add(client, make_buyer(), review_id, [_small(colours[4])])
    assert stranger.status_code == 403
    assert stranger.get_json()["code"] == "community.not_your_review_photos"
    db.session.expire_all()
    assert len(db.session.get(Review, review_id).photos) == 4


def test_a_hidden_review_hides_its_photos(client):
    product, buyer, review_id = _reviewed(client)
    url = _add(client, buyer, review_id, [_small((10, 120, 10))]).get_json()["photos"][0]
    operator = make_operator()
    assert client.post(f"/api/v1/operator/reviews/{review_id}/hide",
                       headers=auth_headers(operator),
                       json={"reason": "a stranger's face"}).status_code == 200
    assert client.get(f"/api/v1/products/{product.id}/reviews").get_json()["items"] == []
    for path in (f"/products/{product.id}", f"/artisans/{product.artisan_id}"):
        assert url not in client.get(path, headers=HTML).get_data(as_text=True)
    seen = client.get(f"/api/v1/products/{product.id}/reviews",
                      headers=auth_headers(operator)).get_json()["items"]
    assert seen[0]["hidden"] is True and seen[0]["photos"] == [url]  # operators still judge it


def test_photos_are_exported_and_deleted_with_the_account(client):
    _product, buyer, review_id = _reviewed(client)
    photo = _add(client, buyer, review_id, [_small((90, 40, 140))]).get_json()["images"][0]
    exported = client.get("/api/v1/me/export", headers=auth_headers(buyer)).get_json()
    assert exported["reviews"][0]["photos"] == [photo["url"]]
    keys = [variant["url"].rsplit("/", 1)[1] for variant in photo["variants"]]
    storage = get_storage()
    assert all(storage.exists(key) for key in keys)

    assert client.delete("/api/v1/me", headers=auth_headers(buyer),
                         json={"password": PASSWORD}).status_code == 204
    db.session.expire_all()
    assert db.session.get(Review, review_id).photos == []
    event = db.session.execute(db.select(OutboxEvent).where(
        OutboxEvent.type == reviews.FILES_UNUSED)).scalar_one()
    assert sorted(event.payload["keys"]) == sorted(keys)
    from workers.catalog import delete_unused_files_task  # what the worker runs for the event

    assert delete_unused_files_task.run(event.id, event.payload) == len(keys)
    assert not any(storage.exists(key) for key in keys)
    assert delete_unused_files_task.run(event.id, event.payload) == 0  # twice: nothing more


def test_the_review_form_takes_photos(client):
    product = make_product()
    buyer = make_buyer(name="Anna Schmidt")
    order = order_of(buyer, [product])
    sign_in(client, buyer)
    path = f"/orders/{order.id}/lines/{order.lines[0].id}/review"
    form = client.get(path, headers=HTML).get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'name="photos"' in form
    body, content_type = _multipart(
        [phone_photo((800, 600)), _small((1, 2, 3), "PNG")], field="photos",
        extra={"csrf_token": csrf_token(client), "rating": "4", "text": "Good glaze"})
    posted = client.post(path, data=body, content_type=content_type, headers=HTML)
    assert posted.status_code == 302, posted.get_data(as_text=True)
    review = db.session.execute(db.select(Review).where(
        Review.order_line_id == order.lines[0].id)).scalar_one()
    assert len(review.photos) == 2 and review.rating == 4
    page = client.get(f"/products/{product.id}", headers=HTML).get_data(as_text=True)
    assert page.count('class="review-photos"') == 1 and page.count("<img") >= 2


def test_the_review_form_refuses_an_svg_and_keeps_nothing(client):
    product = make_product()
    buyer = make_buyer()
    order = order_of(buyer, [product])
    sign_in(client, buyer)
    path = f"/orders/{order.id}/lines/{order.lines[0].id}/review"
    before = _stored_files()
    body, content_type = _multipart(
        [_small((5, 5, 5)), SVG], field="photos",
        extra={"csrf_token": csrf_token(client), "rating": "4", "text": "x"})
    refused = client.post(path, data=body, content_type=content_type, headers=HTML)
    assert refused.status_code == 422
    assert "JPEG, PNG or WebP" in refused.get_data(as_text=True)
    assert db.session.execute(db.select(Review)).first() is None
    assert _stored_files() == before


def test_review_photos_live_in_the_bucket_without_metadata(client, app, s3_bucket, monkeypatch):
    from marketplace.storage import S3Storage

    endpoint, bucket, s3 = s3_bucket
    monkeypatch.setitem(app.extensions, "sheber.storage", S3Storage(
        bucket, prefix="media", endpoint_url=endpoint, region="us-east-1",
        access_key="testing", secret_key="testing", signed_url_seconds=600))
    _product, buyer, review_id = _reviewed(client)
    photo = _add(client, buyer, review_id, [phone_photo((900, 600))]).get_json()["images"][0]
    stored = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert len(stored) == len(photo["variants"]) == 6  # 320, 640, 900 as WebP and JPEG
    assert not any(key.startswith("media/private/") for key in stored)
    for variant in photo["variants"]:
        response = requests.get(variant["url"], timeout=5)  # signed, from the bucket
        assert response.status_code == 200
        assert exifread.process_file(io.BytesIO(response.content), details=False) == {}
        assert b"PhoneMaker" not in response.content
