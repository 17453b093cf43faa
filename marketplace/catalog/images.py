"""Product images: uploads judged by their bytes, stored by content hash."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.models import ProductImage
from marketplace.catalog.writes import owned_product, require_artisan
from marketplace.errors import Conflict, DomainError, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.storage import get_storage
from marketplace.transaction import use_case

IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
                 "WEBP": ("image/webp", "webp")}
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGES_PER_PRODUCT = 12


class PayloadTooLarge(DomainError):
    status = 413
    type = "payload-too-large"
    title = "Payload too large"
    code = CatalogError.IMAGE_TOO_LARGE


def _inspect_image(data: bytes) -> tuple[str, str, int, int]:
    """(content type, extension, width, height) judged from the bytes, never from the name."""
    invalid = ValidationFailed("The file is not a JPEG, PNG or WebP image.",
                               errors={"file": ["must be a JPEG, PNG or WebP image"]},
                               code=CatalogError.IMAGE_UNSUPPORTED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                if kind not in IMAGE_FORMATS:
                    raise invalid
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValidationFailed(
                        "The image has too many pixels.",
                        errors={"file": [f"at most {MAX_IMAGE_PIXELS:,} pixels"]},
                        code=CatalogError.IMAGE_TOO_MANY_PIXELS)
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() misses truncated data; decoding does not
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise invalid from None
    content_type, extension = IMAGE_FORMATS[kind]
    return content_type, extension, width, height


@use_case
def add_image(artisan: User, product_id: str, data: bytes | None, *, max_bytes: int,
              alt: dict | None = None) -> ProductImage:
    require_artisan(artisan)
    product = owned_product(artisan.id, product_id)
    if data is None:
        raise ValidationFailed("Send the image as the multipart field 'file'.",
                               errors={"file": ["required"]}, code=CatalogError.IMAGE_MISSING)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Images are limited to {max_bytes // (1024 * 1024)} MB.",
                              code=CatalogError.IMAGE_TOO_LARGE)
    if not data:
        raise ValidationFailed("The file is empty.", errors={"file": ["empty file"]},
                               code=CatalogError.IMAGE_EMPTY)
    content_type, extension, width, height = _inspect_image(data)
    positions = db.session.execute(
        select(func.count(ProductImage.id), func.max(ProductImage.position))
        .where(ProductImage.product_id == product.id)
    ).one()
    if positions[0] >= MAX_IMAGES_PER_PRODUCT:
        raise Conflict(f"A product has at most {MAX_IMAGES_PER_PRODUCT} images.",
                       code=CatalogError.IMAGE_LIMIT)
    key = get_storage().save(data, extension)
    image = ProductImage(product_id=product.id, storage_key=key, content_type=content_type,
                         width=width, height=height, size_bytes=len(data),
                         position=(positions[1] + 1) if positions[1] is not None else 0,
                         alt=alt or {})
    db.session.add(image)
    return image


@use_case
def delete_image(artisan: User, product_id: str, image_id: str) -> None:
    require_artisan(artisan)
    product = owned_product(artisan.id, product_id)
    image = db.session.get(ProductImage, image_id)
    if image is None or image.product_id != product.id:
        raise NotFound("No such image.", code=CatalogError.IMAGE_NOT_FOUND)
    db.session.delete(image)  # the file stays: another product may use the same bytes


def image_out(image: ProductImage) -> dict:
    return {
        "id": image.id, "url": f"/media/{image.storage_key}", "content_type": image.content_type,
        "width": image.width, "height": image.height, "size_bytes": image.size_bytes,
        "position": image.position, "alt": dict(image.alt or {}),
    }
