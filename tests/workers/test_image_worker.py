"""A real Celery worker makes an uploaded photo's variants: the web process only stores the
upload and records the outbox event."""

import io
import time

import exifread
import pytest

from marketplace.catalog.models import ImageState, Product, ProductImage, ProductStatus
from marketplace.extensions import db
from tests.catalog.test_images import phone_photo, upload
from tests.factories import make_product

pytestmark = pytest.mark.integration


def test_the_worker_processes_an_upload_and_publishes_the_draft(client, start_worker):
    product = make_product(status=ProductStatus.DRAFT)
    image_id = upload(client, product, phone_photo((1400, 900))).get_json()["id"]
    worker = start_worker()
    deadline = time.monotonic() + 60
    while True:
        db.session.expire_all()
        image = db.session.get(ProductImage, image_id)
        if image.state != ImageState.PROCESSING or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert image.state == ImageState.READY, worker.log()
    assert db.session.get(Product, product.id).status == ProductStatus.ACTIVE
    body = client.get(f"/api/v1/products/{product.id}").get_json()
    assert len(body["images"][0]["variants"]) == 8
    for variant in body["images"][0]["variants"]:
        with client.get(variant["url"]) as response:
            assert response.status_code == 200
            assert exifread.process_file(io.BytesIO(response.data), details=False) == {}
    assert "process_image_task" in worker.log()
