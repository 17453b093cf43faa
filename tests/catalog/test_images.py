"""Photos: judged by their bytes at upload, made safe (upright, sRGB, no metadata) and small by
the pipeline, served under content hashes."""

import io
import json
import shutil
import subprocess

import exifread
import pytest
from PIL import ExifTags, Image

from marketplace.catalog import images
from marketplace.catalog.models import ImageState, Product, ProductImage, ProductStatus
from marketplace.extensions import db
from marketplace.storage import get_storage
from tests.catalog.conftest import count, image_bytes
from tests.factories import auth_headers, make_buyer, make_product

ALMATY_GPS = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (43.0, 15.0, 0.0),
              ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (76.0, 55.0, 0.0)}


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


def process_all() -> None:
    """What the worker does for each upload (tests/workers proves the worker does it)."""
    waiting = db.session.execute(db.select(ProductImage.id).where(
        ProductImage.state == ImageState.PROCESSING)).scalars().all()
    for image_id in waiting:
        images.process_image(image_id)


def phone_photo(size=(3000, 2000), orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: GPS of an Almaty studio, camera make and model, capture
    time, an orientation tag, XMP and a comment. Left half red, right half blue."""
    picture = Image.new("RGB", size, (200, 30, 30))
    picture.paste((30, 30, 200), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Pocket 12 Pro"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.DateTime] = "2026:05:01 10:00:00"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(ALMATY_GPS)
    xmp = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
           b'02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/"'
           b' exif:GPSLatitude="43,15N"/></rdf:RDF></x:xmpmeta>')
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", exif=exif.tobytes(), xmp=xmp, comment=b"studio at home",
                 quality=90)
    return buffer.getvalue()


def served(client, url: str) -> bytes:
    with client.get(url) as response:
        assert response.status_code == 200, url
        return response.data


def status(client, url: str) -> int:
    with client.get(url) as response:
        return response.status_code


def exiftool_tags(data: bytes, tmp_path) -> dict:
    path = tmp_path / "variant"
    path.write_bytes(data)
    output = subprocess.run(["exiftool", "-j", "-a", "-G1", str(path)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output)[0]


def test_the_phone_photo_carries_what_must_not_be_served(tmp_path):
    # The fixture must hold what the pipeline removes, else the next test proves nothing.
    data = phone_photo()
    tags = exifread.process_file(io.BytesIO(data), details=False)
    assert str(tags["GPS GPSLatitude"]) == "[43, 15, 0]"
    assert str(tags["Image Make"]) == "PhoneMaker"
    if shutil.which("exiftool"):
        found = exiftool_tags(data, tmp_path)
        assert "GPS:GPSLatitude" in found and "IFD0:Model" in found
        assert any(key.startswith("XMP") for key in found)


def test_a_jpeg_with_gps_comes_back_from_every_variant_without_it(client, tmp_path):
    product = make_product()
    response = upload(client, product, phone_photo())
    assert response.status_code == 201
    assert response.get_json()["state"] == "processing"
    assert response.get_json()["variants"] == []
    process_all()
    body = client.get(f"/api/v1/products/{product.id}").get_json()
    image = body["images"][0]
    assert image["state"] == "ready"
    variants = image["variants"]
    sizes = sorted({max(v["width"], v["height"]) for v in variants})
    assert sizes == [320, 640, 1280, 2048, 3000]
    assert {(max(v["width"], v["height"]), v["format"]) for v in variants} == {
        (size, fmt) for size in sizes for fmt in ("jpeg", "webp")}
    exiftool = shutil.which("exiftool")
    for variant in variants:
        data = served(client, variant["url"])
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.format == variant["format"].upper()
            assert picture.size == (variant["width"], variant["height"])
            assert not picture.getexif()
            assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(
                picture.info)
        assert exifread.process_file(io.BytesIO(data), details=False) == {}
        for needle in (b"Exif", b"PhoneMaker", b"Pocket 12", b"studio at home", b"xmpmeta",
                       b"GPS"):
            assert needle not in data, (variant["format"], variant["width"], needle)
        if exiftool:  # an implementation that is not ours reads every metadata group it knows
            found = exiftool_tags(data, tmp_path)
            leaked = [key for key in found if key.split(":")[0] in (
                "GPS", "IFD0", "IFD1", "ExifIFD", "XMP-exif", "XMP-x", "XMP-rdf", "ICC_Profile",
                "ICC-header", "File:Comment")] + [key for key in found if "GPS" in key]
            assert leaked == [], leaked
    assert image["url"] in {v["url"] for v in variants}
    assert image["url"].endswith(".jpg") and image["content_type"] == "image/jpeg"


def test_the_upload_as_it_arrived_is_deleted_once_processed(client):
    product = make_product()
    data = phone_photo((800, 600))
    upload(client, product, data)
    key = db.session.execute(db.select(ProductImage.storage_key)).scalar_one()
    assert get_storage().read(key, private=True) == data
    process_all()
    assert get_storage().read(key, private=True) is None
    assert get_storage().read(key) is None  # never in the public area either


def test_the_photo_is_turned_upright_by_its_exif_orientation(client):
    product = make_product()
    upload(client, product, phone_photo((600, 400), orientation=6))  # rotate 90° clockwise
    process_all()
    image = client.get(f"/api/v1/products/{product.id}").get_json()["images"][0]
    assert (image["width"], image["height"]) == (400, 600)
    full = max((v for v in image["variants"] if v["format"] == "jpeg"),
               key=lambda v: v["width"])
    with Image.open(io.BytesIO(served(client, full["url"]))) as picture:
        top, bottom = picture.getpixel((200, 100)), picture.getpixel((200, 500))
    assert top[0] > 150 and top[2] < 80  # the red left half is now on top
    assert bottom[2] > 150 and bottom[0] < 80


def test_cmyk_and_transparent_uploads_become_srgb(client):
    product = make_product()
    cmyk = io.BytesIO()
    Image.new("CMYK", (500, 300), (0, 255, 255, 0)).save(cmyk, "JPEG")  # pure red ink
    transparent = io.BytesIO()
    Image.new("RGBA", (500, 300), (0, 0, 0, 0)).save(transparent, "PNG")
    upload(client, product, cmyk.getvalue())
    upload(client, product, transparent.getvalue())
    process_all()
    first, second = client.get(f"/api/v1/products/{product.id}").get_json()["images"]
    for variant in first["variants"]:
        with Image.open(io.BytesIO(served(client, variant["url"]))) as picture:
            assert picture.mode == "RGB"
            red, green, blue = picture.getpixel((10, 10))
            assert red > 200 and green < 60 and blue < 60
    jpeg = next(v for v in second["variants"] if v["format"] == "jpeg")
    with Image.open(io.BytesIO(served(client, jpeg["url"]))) as picture:
        assert picture.getpixel((5, 5)) == (255, 255, 255)  # flattened onto white


def test_small_images_are_never_enlarged(client):
    product = make_product()
    upload(client, product, image_bytes("PNG", (500, 250)))
    process_all()
    image = client.get(f"/api/v1/products/{product.id}").get_json()["images"][0]
    assert sorted({v["width"] for v in image["variants"]}) == [320, 500]


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
    upload(client, product, image_bytes("PNG"))
    process_all()
    url = client.get(f"/api/v1/products/{product.id}").get_json()["images"][0]["url"]
    with client.get(url) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert response.cache_control.max_age >= 365 * 24 * 3600
        assert response.cache_control.public and response.cache_control.immutable
        etag = response.headers["ETag"]
    with client.get(url, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_unknown_media_key_is_404(client):
    assert client.get("/media/" + "0" * 64 + ".png").status_code == 404
    assert client.get("/media/..%2Fsecret_key").status_code == 404


def test_a_private_upload_is_not_served_under_its_key(client):
    product = make_product()
    upload(client, product, image_bytes("PNG"))
    key = db.session.execute(db.select(ProductImage.storage_key)).scalar_one()
    assert get_storage().exists(key, private=True)
    assert status(client, f"/media/{key}") == 404


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
    data = phone_photo((400, 300))
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


def test_same_bytes_uploaded_twice_share_their_variants(client):
    product = make_product()
    data = image_bytes("PNG", (700, 500))
    first = upload(client, product, data).get_json()
    second = upload(client, product, data).get_json()
    assert first["id"] != second["id"]
    assert (first["position"], second["position"]) == (0, 1)
    process_all()
    one, two = client.get(f"/api/v1/products/{product.id}").get_json()["images"]
    assert one["variants"] == two["variants"]
    # removing one keeps the files the other shows
    client.delete(f"/api/v1/products/{product.id}/images/{one['id']}",
                  headers=auth_headers(product.artisan))
    for variant in two["variants"]:
        assert status(client, variant["url"]) == 200


def test_a_listing_has_at_most_ten_photos(client):
    product = make_product()
    for n in range(10):
        assert upload(client, product, image_bytes("PNG", (40 + n, 40))).status_code == 201
    response = upload(client, product, image_bytes("PNG", (90, 40)))
    assert response.status_code == 409
    assert response.get_json()["code"] == "catalog.image_limit"
    assert count(ProductImage) == 10


def test_owner_reorders_photos_and_the_first_is_the_cover(client):
    product = make_product()
    ids = [upload(client, product, image_bytes("PNG", (50 + n, 40))).get_json()["id"]
           for n in range(3)]
    new_order = [ids[2], ids[0], ids[1]]
    response = client.put(f"/api/v1/products/{product.id}/images/order",
                          json={"image_ids": new_order}, headers=auth_headers(product.artisan))
    assert response.status_code == 200
    assert [item["id"] for item in response.get_json()["items"]] == new_order
    body = client.get(f"/api/v1/products/{product.id}").get_json()
    assert [image["id"] for image in body["images"]] == new_order
    assert [image["position"] for image in body["images"]] == [0, 1, 2]


@pytest.mark.parametrize("order", [[], ["x"], "dup"])
def test_a_reorder_must_list_every_photo_once(client, order):
    product = make_product()
    ids = [upload(client, product, image_bytes("PNG", (50 + n, 40))).get_json()["id"]
           for n in range(2)]
    order = [ids[0], ids[0]] if order == "dup" else order
    response = client.put(f"/api/v1/products/{product.id}/images/order",
                          json={"image_ids": order}, headers=auth_headers(product.artisan))
    assert response.status_code == 422
    assert response.get_json()["code"] == "catalog.image_order_invalid"


def test_another_artisan_cannot_reorder_or_delete(client):
    product = make_product()
    image_id = upload(client, product, image_bytes("PNG")).get_json()["id"]
    stranger = make_product().artisan
    assert client.put(f"/api/v1/products/{product.id}/images/order",
                      json={"image_ids": [image_id]},
                      headers=auth_headers(stranger)).status_code == 404
    assert client.delete(f"/api/v1/products/{product.id}/images/{image_id}",
                         headers=auth_headers(stranger)).status_code == 404
    assert client.put(f"/api/v1/products/{product.id}/images/order",
                      json={"image_ids": [image_id]},
                      headers=auth_headers(make_buyer())).status_code == 403


def test_owner_deletes_a_photo_and_its_files(client):
    product = make_product()
    upload(client, product, image_bytes("PNG", (400, 300)))
    upload(client, product, image_bytes("PNG", (300, 400)))
    process_all()
    first, _second = client.get(f"/api/v1/products/{product.id}").get_json()["images"]
    response = client.delete(f"/api/v1/products/{product.id}/images/{first['id']}",
                             headers=auth_headers(product.artisan))
    assert response.status_code == 204
    assert count(ProductImage) == 1
    for variant in first["variants"]:
        assert status(client, variant["url"]) == 404


def test_a_piece_for_sale_keeps_its_last_photo(client):
    product = make_product()
    upload(client, product, image_bytes("PNG"))
    process_all()
    image_id = db.session.execute(db.select(ProductImage.id)).scalar_one()
    assert db.session.get(Product, product.id).status == ProductStatus.ACTIVE
    response = client.delete(f"/api/v1/products/{product.id}/images/{image_id}",
                             headers=auth_headers(product.artisan))
    assert response.status_code == 409
    assert response.get_json()["code"] == "catalog.last_photo"
    assert count(ProductImage) == 1


def test_images_stored_before_the_pipeline_are_processed_by_the_command(runner):
    # Before this pipeline an upload was stored and served as it arrived, GPS and all.
    product = make_product()
    data = phone_photo((700, 500))
    key = get_storage().save(data, "jpg")
    db.session.add(ProductImage(product_id=product.id, storage_key=key,
                                content_type="image/jpeg", width=700, height=500,
                                size_bytes=len(data), position=0, alt={},
                                state=ImageState.PROCESSING, variants=[]))
    db.session.commit()
    result = runner.invoke(args=["catalog", "process-images"])
    assert result.exit_code == 0, result.output
    assert "1 images processed: 1 ready, 0 failed" in result.output
    image = db.session.execute(db.select(ProductImage)).scalar_one()
    db.session.refresh(image)
    assert image.state == ImageState.READY and len(image.variants) == 6
    assert get_storage().read(key) is None  # no longer served as it arrived
