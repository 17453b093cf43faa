"""Catalogue HTTP: workshops, products, images, browsing, media.

Products are shown with what the domains above the catalogue know of them: each one's
provenance summary, and for ``ships_to`` the countries shipping delivers to.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, send_file

from marketplace.catalog import browse, images, writes
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.schemas import (
    CraftList,
    ImageList,
    ImageOrderIn,
    ImageOut,
    ListQuery,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    ProfileIn,
    ProfileOut,
    ReadQuery,
    TariffList,
)
from marketplace.errors import NotFound
from marketplace.http import (
    auth_required,
    current_user,
    json_body,
    multipart_body,
    query_args,
    responds,
)
from marketplace.listings import present
from marketplace.money import PRESENTMENT_CURRENCIES
from marketplace.schemas import build
from marketplace.shipping.service import served_countries
from marketplace.storage import CONTENT_TYPES, IMMUTABLE, LocalStorage, get_storage, valid_key

bp = Blueprint("catalog", __name__, url_prefix="/api/v1")
media_bp = Blueprint("media", __name__)
blueprints = [bp, media_bp]

MEDIA_MAX_AGE = 365 * 24 * 3600  # keys are content hashes: a key's bytes never change


def request_language(query_lang: str | None) -> str | None:
    """``?lang=``, else the first of Accept-Language (by quality) that we write in."""
    if browse.supported_language(query_lang):
        return browse.supported_language(query_lang)
    for value, _quality in request.accept_languages:
        if lang := browse.supported_language(value):
            return lang
    return None


def request_currency(query_currency: str | None) -> str:
    if query_currency:
        return query_currency
    user = current_user()
    if user is not None and user.currency in PRESENTMENT_CURRENCIES:
        return user.currency
    return browse.DEFAULT_PRESENTMENT


def _present_one(product, query: ReadQuery | None = None) -> dict:
    query = query or ReadQuery()
    return present([product], lang=request_language(query.lang),
                   currency=request_currency(query.currency))[0]


# --- workshop profiles ---

@bp.get("/artisans/me")
@auth_required("artisan")
@query_args(ReadQuery)
@responds(ProfileOut)
def my_profile(query: ReadQuery):
    """The signed-in artisan's workshop profile (404 until it is created with PUT)."""
    writes.get_profile(current_user().id)
    return browse.profile_view(current_user().id, request_language(query.lang))


@bp.put("/artisans/me")
@auth_required("artisan")
@json_body(ProfileIn)
@responds(ProfileOut)
def save_my_profile(body: ProfileIn):
    """Create or replace the signed-in artisan's workshop profile."""
    user = current_user()
    writes.save_profile(user, body)
    return browse.profile_view(user.id, request_language(None))


@bp.get("/artisans/<artisan_id>")
@query_args(ReadQuery)
@responds(ProfileOut)
def artisan_profile(artisan_id: str, query: ReadQuery):
    """A workshop's public profile with its product counts."""
    return browse.profile_view(artisan_id, request_language(query.lang))


# --- products ---

@bp.get("/products")
@query_args(ListQuery)
@responds(ProductPage)
def list_products(query: ListQuery):
    """Browse active products: filters, full-text search, sort, keyset pagination."""
    page = browse.list_products(
        q=query.q, craft=query.craft, material=query.material, technique=query.technique,
        artisan=query.artisan, verified=query.verified, min_price=query.min_price,
        max_price=query.max_price, currency=query.currency, ships_to=query.ships_to,
        served_countries=served_countries() if query.ships_to else None,
        sort=query.sort, limit=query.limit, cursor=query.cursor, facets=query.facet_names,
    )
    currency = request_currency(query.currency)
    items = present(page.products, lang=request_language(query.lang), currency=currency,
                    rates=page.rates)
    if page.facets is None:
        return build(ProductPage, items=items, next_cursor=page.next_cursor)
    return build(ProductPage, items=items, next_cursor=page.next_cursor, facets=page.facets)


@bp.post("/products")
@auth_required("artisan")
@json_body(ProductIn)
@responds(ProductOut, 201)
def create_product(body: ProductIn):
    """List a new piece (artisans only)."""
    product = writes.create_product(current_user(), body)
    return _present_one(product), 201, {"Location": f"/api/v1/products/{product.id}"}


@bp.get("/products/<product_id>")
@query_args(ReadQuery)
@responds(ProductOut)
def get_product(product_id: str, query: ReadQuery):
    """One product, in the requested language and presentment currency."""
    product = browse.get_product(product_id, current_user())
    return _present_one(product, query)


@bp.patch("/products/<product_id>")
@auth_required("artisan")
@json_body(ProductPatch)
@responds(ProductOut)
def update_product(product_id: str, body: ProductPatch):
    """Change some fields of your product; a provenance-relevant change revokes its label."""
    product = writes.update_product(current_user(), product_id, body)
    return _present_one(product)


@bp.delete("/products/<product_id>")
@auth_required("artisan")
@responds(None, 204)
def archive_product(product_id: str):
    """Archive your product (it leaves the catalogue; orders keep it)."""
    writes.archive_product(current_user(), product_id)
    return "", 204


@bp.post("/products/<product_id>/images")
@auth_required("artisan")
@multipart_body("file")
@responds(ImageOut, 201)
def upload_image(product_id: str):
    """Add an image: multipart field `file`, JPEG/PNG/WebP, at most 10 MB; a worker then makes
    its metadata-free variants (`state` goes from processing to ready)."""
    max_bytes = current_app.config["MAX_IMAGE_BYTES"]
    upload = request.files.get("file")
    data = upload.stream.read(max_bytes + 1) if upload is not None else None
    image = images.add_image(current_user(), product_id, data, max_bytes=max_bytes)
    return images.image_out(image), 201


@bp.put("/products/<product_id>/images/order")
@auth_required("artisan")
@json_body(ImageOrderIn)
@responds(ImageList)
def reorder_images(product_id: str, body: ImageOrderIn):
    """Put your product's images in a new order; the first is the cover."""
    ordered = images.reorder_images(current_user(), product_id, body.image_ids)
    return build(ImageList, items=[images.image_out(image) for image in ordered])


@bp.delete("/products/<product_id>/images/<image_id>")
@auth_required("artisan")
@responds(None, 204)
def delete_image(product_id: str, image_id: str):
    """Remove an image from your product."""
    images.delete_image(current_user(), product_id, image_id)
    return "", 204


@bp.get("/crafts")
@query_args(ReadQuery)
@responds(CraftList)
def crafts(query: ReadQuery):
    """Craft categories with their default HS codes and names in kk/ru/en."""
    return build(CraftList, items=browse.crafts(request_language(query.lang)))


@bp.get("/tariffs")
@responds(TariffList)
def tariffs():
    """The national tariffs a product may carry codes of (``tariff_codes``): the digits each
    uses and the destinations whose customs use it, with the source of each."""
    return build(TariffList, items=browse.tariffs())


# --- media ---

@media_bp.get("/media/<key>")
def media(key: str):
    """A public image file, cacheable forever (its key is the hash of its bytes). Served from
    the local folder, or read from the bucket for a development setup without a CDN."""
    storage = get_storage()
    if not valid_key(key):
        raise NotFound("No such file.", code=CatalogError.FILE_NOT_FOUND)
    mimetype = CONTENT_TYPES[key.rsplit(".")[1]]
    if isinstance(storage, LocalStorage):
        path = storage.path(key)
        if path is None:
            raise NotFound("No such file.", code=CatalogError.FILE_NOT_FOUND)
        response = send_file(path, mimetype=mimetype, conditional=True,
                             etag=key.split(".")[0], max_age=MEDIA_MAX_AGE)
    else:
        data = storage.read(key)
        if data is None:
            raise NotFound("No such file.", code=CatalogError.FILE_NOT_FOUND)
        response = Response(data, mimetype=mimetype)
        response.set_etag(key.split(".")[0])
        response.headers["Cache-Control"] = IMMUTABLE
        response.make_conditional(request)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response
