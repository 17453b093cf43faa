"""Product photos: uploads judged by their bytes, then made safe and small by a worker.

An upload is checked at once (its type from its bytes, its pixel count, that it decodes) and
kept in the private storage area; ``catalog.image_uploaded`` sends its id to a worker, which
decodes it, turns it upright by its EXIF orientation, converts it to sRGB, drops every piece of
metadata (GPS, camera, thumbnails, XMP, ICC) by copying pixels alone, and stores the result at
full size and at 320, 640, 1280 and 2048 px on the long side, as WebP and JPEG, under content
hashes. The private upload is then deleted: nothing with the artisan's GPS is ever served.

``clean_variants(data)`` is the reusable part (any photo: a review's, a profile's): bytes in,
stored variants out.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select

from marketplace.accounts.models import User
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.models import ImageState, Product, ProductImage, ProductStatus
from marketplace.catalog.writes import owned_product, publish_if_ready, require_artisan
from marketplace.errors import Conflict, DomainError, NotFound, ValidationFailed
from marketplace.extensions import db
from marketplace.outbox import emit
from marketplace.storage import get_storage, media_url
from marketplace.transaction import lock_rows, use_case

log = logging.getLogger(__name__)

IMAGE_FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"),
                 "WEBP": ("image/webp", "webp")}
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGES_PER_PRODUCT = 10
VARIANT_SIZES = (320, 640, 1280, 2048)  # px on the long side; never enlarged
WEBP_MAX_SIDE = 16383  # the format's limit
# {image_id, product_id}: a photo was uploaded and waits for its variants.
IMAGE_UPLOADED = "catalog.image_uploaded"


class PayloadTooLarge(DomainError):
    status = 413
    type = "payload-too-large"
    title = "Payload too large"
    code = CatalogError.IMAGE_TOO_LARGE


@dataclass(frozen=True)
class Upload:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def _invalid() -> ValidationFailed:
    return ValidationFailed("The file is not a JPEG, PNG or WebP image.",
                            errors={"file": ["must be a JPEG, PNG or WebP image"]},
                            code=CatalogError.IMAGE_UNSUPPORTED)


def check_upload(data: bytes | None, *, max_bytes: int) -> Upload:
    """The upload judged from its bytes, never from its name: a JPEG, PNG or WebP image of at
    most ``max_bytes`` and MAX_IMAGE_PIXELS that decodes to the end. Fast: a JPEG is decoded at
    1/8 scale, which still reads every byte of it."""
    if data is None:
        raise ValidationFailed("Send the image as the multipart field 'file'.",
                               errors={"file": ["required"]}, code=CatalogError.IMAGE_MISSING)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"Images are limited to {max_bytes // (1024 * 1024)} MB.",
                              code=CatalogError.IMAGE_TOO_LARGE)
    if not data:
        raise ValidationFailed("The file is empty.", errors={"file": ["empty file"]},
                               code=CatalogError.IMAGE_EMPTY)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                width, height = image.size
                if kind not in IMAGE_FORMATS:
                    raise _invalid()
                if width * height > MAX_IMAGE_PIXELS:
                    raise ValidationFailed(
                        "The image has too many pixels.",
                        errors={"file": [f"at most {MAX_IMAGE_PIXELS:,} pixels"]},
                        code=CatalogError.IMAGE_TOO_MANY_PIXELS)
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                if kind == "JPEG":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()  # verify() misses truncated data; decoding does not
    except DomainError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _invalid() from None
    content_type, extension = IMAGE_FORMATS[kind]
    return Upload(data, content_type, extension, width, height)


# --- the pipeline: pure functions of the bytes ---

def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or RGBA pixels in sRGB, whatever the mode and embedded ICC profile."""
    alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info)
    target = "RGBA" if alpha else "RGB"
    icc = image.info.get("icc_profile")
    if icc:
        source = image
        if source.mode not in ("RGB", "RGBA", "CMYK", "L"):
            source = source.convert(target)
        try:
            converted = ImageCms.profileToProfile(
                source, ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"), outputMode=target,
                renderingIntent=ImageCms.Intent.PERCEPTUAL)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.info("unusable ICC profile ignored; pixels taken as sRGB")
    return image.convert(target) if image.mode != target else image


def clean_image(data: bytes) -> Image.Image:
    """The picture alone: decoded, upright, sRGB, and a new image carrying nothing but pixels
    (no EXIF, GPS, camera, thumbnail, XMP, comment or ICC profile)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            upright = ImageOps.exif_transpose(opened)
            pixels = _to_srgb(upright)
            return Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())


def _encode(image: Image.Image, fmt: str, *, original: bool) -> bytes:
    buffer = io.BytesIO()
    if fmt == "jpeg":
        if image.mode == "RGBA":  # JPEG has no alpha: flatten onto white
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(buffer, "JPEG", quality=88 if original else 82, optimize=True,
                   progressive=True)
    else:
        image.save(buffer, "WEBP", quality=85 if original else 78, method=4)
    return buffer.getvalue()


@dataclass(frozen=True)
class Rendered:
    width: int
    height: int
    format: str  # "jpeg" | "webp"
    data: bytes
    original: bool

    @property
    def extension(self) -> str:
        return "jpg" if self.format == "jpeg" else "webp"


def render_variants(image: Image.Image, sizes: tuple[int, ...] = VARIANT_SIZES) -> list[Rendered]:
    """The full-size picture and each smaller size, as WebP and JPEG, smallest first."""
    width, height = image.size
    long_side = max(width, height)
    steps: list[tuple[Image.Image, bool]] = [(image, True)]
    current = image
    for size in sorted((s for s in sizes if s < long_side), reverse=True):
        scale = size / long_side
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
        current = current.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        steps.append((current, False))
    rendered = []
    for picture, original in reversed(steps):
        for fmt in ("webp", "jpeg"):
            if fmt == "webp" and max(picture.size) > WEBP_MAX_SIDE:
                continue
            rendered.append(Rendered(picture.width, picture.height, fmt,
                                     _encode(picture, fmt, original=original), original))
    return rendered


def store_variants(rendered: list[Rendered]) -> list[dict]:
    storage = get_storage()
    return [{"width": item.width, "height": item.height, "format": item.format,
             "key": storage.save(item.data, item.extension), "size_bytes": len(item.data),
             "original": item.original} for item in rendered]


def clean_variants(data: bytes, sizes: tuple[int, ...] = VARIANT_SIZES) -> list[dict]:
    """Any photo's bytes to stored, metadata-free variants (public storage area): the pipeline
    for whoever needs it. Call it outside any transaction: it is slow and talks to storage."""
    return store_variants(render_variants(clean_image(data), sizes))


def variants_out(variants: list[dict]) -> list[dict]:
    return [{"width": v["width"], "height": v["height"], "format": v["format"],
             "url": media_url(v["key"]), "size_bytes": v["size_bytes"]} for v in variants]


# --- product images ---

def _count_images(product_id: str) -> tuple[int, int | None]:
    return db.session.execute(
        select(func.count(ProductImage.id), func.max(ProductImage.position))
        .where(ProductImage.product_id == product_id)
    ).one()


def _refuse_over_limit(existing: int, adding: int) -> None:
    if existing + adding > MAX_IMAGES_PER_PRODUCT:
        raise Conflict(f"A product has at most {MAX_IMAGES_PER_PRODUCT} images.",
                       code=CatalogError.IMAGE_LIMIT)


def _editable(product: Product) -> None:
    if product.status == ProductStatus.ARCHIVED:
        raise Conflict("An archived product cannot be edited.",
                       code=CatalogError.PRODUCT_ARCHIVED)


def add_images(artisan: User, product_id: str, files: list[bytes | None], *, max_bytes: int,
               alt: dict | None = None) -> list[ProductImage]:
    """Add photos to the artisan's product, all or none; each goes to a worker for its
    variants. The uploads are stored before the transaction that records them (storage is a
    call out of the process: never under the product's lock)."""
    require_artisan(artisan)
    product = owned_product(artisan.id, product_id)
    _editable(product)
    if not files:
        files = [None]
    uploads = [check_upload(data, max_bytes=max_bytes) for data in files]
    _refuse_over_limit(_count_images(product.id)[0], len(uploads))
    db.session.rollback()  # end the read: the uploads go out while no transaction is open
    storage = get_storage()
    keys = [storage.save(upload.data, upload.extension, private=True) for upload in uploads]
    return _record_uploads(artisan, product_id, uploads, keys, alt or {})


@use_case
def _record_uploads(artisan: User, product_id: str, uploads: list[Upload], keys: list[str],
                    alt: dict) -> list[ProductImage]:
    lock_rows(Product, [product_id])  # concurrent uploads count one after another
    product = owned_product(artisan.id, product_id)
    _editable(product)
    count, last = _count_images(product.id)
    _refuse_over_limit(count, len(uploads))
    position = (last + 1) if last is not None else 0
    images = []
    for offset, (upload, key) in enumerate(zip(uploads, keys, strict=True)):
        image = ProductImage(product_id=product.id, storage_key=key,
                             content_type=upload.content_type, width=upload.width,
                             height=upload.height, size_bytes=len(upload.data),
                             position=position + offset, alt=dict(alt),
                             state=ImageState.PROCESSING, variants=[])
        db.session.add(image)
        images.append(image)
    db.session.flush()
    for image in images:
        emit(IMAGE_UPLOADED, {"image_id": image.id, "product_id": product.id})
    return images


def add_image(artisan: User, product_id: str, data: bytes | None, *, max_bytes: int,
              alt: dict | None = None) -> ProductImage:
    return add_images(artisan, product_id, [data], max_bytes=max_bytes, alt=alt)[0]


def add_ready_image(product_id: str, variants: list[dict], *, alt: dict | None = None,
                    illustration: bool = False, source_key: str) -> ProductImage:
    """Record an image whose variants are already stored (the demo seed's illustrations), in the
    caller's use case, and publish the product if that was all it lacked."""
    lock_rows(Product, [product_id])
    product = db.session.get(Product, product_id)
    count, last = _count_images(product_id)
    _refuse_over_limit(count, 1)
    full = max(variants, key=lambda v: v["width"] * v["height"])
    image = ProductImage(product_id=product_id, storage_key=source_key,
                         content_type="image/png", width=full["width"], height=full["height"],
                         size_bytes=full["size_bytes"],
                         position=(last + 1) if last is not None else 0, alt=alt or {},
                         state=ImageState.READY, variants=variants, illustration=illustration)
    db.session.add(image)
    db.session.flush()
    publish_if_ready(product)
    return image


def process_image(image_id: str) -> str:
    """The worker's part: make an uploaded image's variants; its state afterwards. Runs again
    harmlessly (keys are content hashes; a ready image is left alone)."""
    image = db.session.get(ProductImage, image_id)
    if image is None or image.state != ImageState.PROCESSING:
        state = image.state if image is not None else "gone"
        db.session.rollback()
        return state
    key = image.storage_key
    db.session.rollback()  # no transaction stays open while storage and Pillow work
    storage = get_storage()
    data = storage.read(key, private=True)
    legacy = False
    if data is None:  # stored in the public area before the pipeline existed
        data, legacy = storage.read(key), True
    variants = None
    if data is not None:
        try:
            variants = clean_variants(data)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                Image.DecompressionBombError, Image.DecompressionBombWarning):
            log.warning("image %s could not be decoded", image_id)
    state = _finish_processing(image_id, variants)
    if state in (ImageState.READY, ImageState.FAILED, "gone"):
        _forget_source(key, legacy, variants or [])
    return state


@use_case
def _finish_processing(image_id: str, variants: list[dict] | None) -> str:
    image = db.session.get(ProductImage, image_id)
    if image is None:
        return "gone"
    lock_rows(Product, [image.product_id])
    db.session.refresh(image)
    if image.state != ImageState.PROCESSING:
        return image.state
    if variants is None:
        image.state = ImageState.FAILED
        return image.state
    full = max(variants, key=lambda v: v["width"] * v["height"])
    image.variants = variants
    image.width, image.height = full["width"], full["height"]
    image.state = ImageState.READY
    db.session.flush()
    publish_if_ready(db.session.get(Product, image.product_id))
    return image.state


def _forget_source(key: str, legacy: bool, variants: list[dict]) -> None:
    """Delete the upload as it arrived once no image still waits for it."""
    waiting = db.session.execute(
        select(func.count(ProductImage.id)).where(ProductImage.storage_key == key,
                                                 ProductImage.state == ImageState.PROCESSING)
    ).scalar_one()
    db.session.rollback()
    if waiting:
        return
    storage = get_storage()
    storage.delete(key, private=True)
    if legacy and key not in {v["key"] for v in variants}:
        storage.delete(key)


@use_case
def _remove_image(artisan: User, product_id: str, image_id: str) -> tuple[list[str], str]:
    require_artisan(artisan)
    lock_rows(Product, [product_id])
    product = owned_product(artisan.id, product_id)
    image = db.session.get(ProductImage, image_id)
    if image is None or image.product_id != product.id:
        raise NotFound("No such image.", code=CatalogError.IMAGE_NOT_FOUND)
    if product.status == ProductStatus.ACTIVE and image.state == ImageState.READY:
        ready = db.session.execute(
            select(func.count(ProductImage.id)).where(ProductImage.product_id == product.id,
                                                     ProductImage.state == ImageState.READY)
        ).scalar_one()
        if ready <= 1:
            raise Conflict("A piece for sale keeps at least one photo: add another first.",
                           code=CatalogError.LAST_PHOTO)
    keys = [variant["key"] for variant in image.variants or []]
    source = image.storage_key
    db.session.delete(image)
    db.session.flush()
    _renumber(product.id)
    # Files another image shows (the same bytes uploaded twice) stay.
    shared = set()
    for other in db.session.execute(
            select(ProductImage.variants).where(ProductImage.storage_key == source)).scalars():
        shared.update(variant["key"] for variant in other or [])
    return [key for key in keys if key not in shared], source


def delete_image(artisan: User, product_id: str, image_id: str) -> None:
    """Remove a photo and, after the commit, its files (unless another image shows them)."""
    unused, _source = _remove_image(artisan, product_id, image_id)
    storage = get_storage()
    for key in unused:
        storage.delete(key)


def _renumber(product_id: str, order: list[str] | None = None) -> list[ProductImage]:
    images = list(db.session.execute(
        select(ProductImage).where(ProductImage.product_id == product_id)
        .order_by(ProductImage.position, ProductImage.id)).scalars())
    if order is not None:
        by_id = {image.id: image for image in images}
        images = [by_id[image_id] for image_id in order]
    for position, image in enumerate(images):
        if image.position != position:
            image.position = position
    return images


@use_case
def reorder_images(artisan: User, product_id: str, image_ids: list[str]) -> list[ProductImage]:
    """Put the product's images in this order (every one of them, each once); the first is the
    cover."""
    require_artisan(artisan)
    lock_rows(Product, [product_id])
    product = owned_product(artisan.id, product_id)
    _editable(product)
    current = set(db.session.execute(
        select(ProductImage.id).where(ProductImage.product_id == product.id)).scalars())
    if len(image_ids) != len(set(image_ids)) or set(image_ids) != current:
        raise ValidationFailed("List every image of the product once, in the new order.",
                               errors={"image_ids": ["must list each of the product's images "
                                                     "once"]},
                               code=CatalogError.IMAGE_ORDER_INVALID)
    return _renumber(product.id, image_ids)


def move_image(artisan: User, product_id: str, image_id: str, *, to: int) -> list[ProductImage]:
    """Move one image to position ``to`` (0 = the cover), keeping the others' order."""
    order = [image.id for image in product_images(product_id)]
    if image_id not in order:
        raise NotFound("No such image.", code=CatalogError.IMAGE_NOT_FOUND)
    order.remove(image_id)
    order.insert(max(0, min(to, len(order))), image_id)
    return reorder_images(artisan, product_id, order)


def product_images(product_id: str) -> list[ProductImage]:
    return list(db.session.execute(
        select(ProductImage).where(ProductImage.product_id == product_id)
        .order_by(ProductImage.position, ProductImage.id)).scalars())


def default_variant(variants: list[dict]) -> dict | None:
    """The JPEG every browser shows: the one nearest 1280 px, else the largest."""
    jpegs = sorted((v for v in variants if v["format"] == "jpeg"),
                   key=lambda v: max(v["width"], v["height"]))
    if not jpegs:
        return None
    fitting = [v for v in jpegs if max(v["width"], v["height"]) <= 1280]
    return fitting[-1] if fitting else jpegs[0]


def image_out(image: ProductImage) -> dict:
    variants = list(image.variants or [])
    default = default_variant(variants)
    return {
        "id": image.id, "url": media_url(default["key"]) if default else None,
        "content_type": "image/jpeg" if default else image.content_type,
        "width": image.width, "height": image.height, "size_bytes": image.size_bytes,
        "position": image.position, "alt": dict(image.alt or {}), "state": image.state,
        "illustration": bool(image.illustration), "variants": variants_out(variants),
    }
