"""Error codes of the catalogue: workshop profiles, products, images."""

from __future__ import annotations

from marketplace.errors import ErrorCodes


class CatalogError(ErrorCodes):
    ARTISAN_NOT_FOUND = "catalog.artisan_not_found", "No such artisan (404)."
    PROFILE_MISSING = ("catalog.profile_missing",
                       "The artisan has no workshop profile yet (404).")
    ARTISAN_ONLY = ("catalog.artisan_only",
                    "Only artisans have a workshop profile and list products (403).")
    PRODUCT_NOT_FOUND = ("catalog.product_not_found",
                         "No such product, or it is not for sale (404).")
    PRODUCT_ARCHIVED = "catalog.product_archived", "An archived product cannot be edited (409)."
    STOCK_BELOW_RESERVED = ("catalog.stock_below_reserved",
                            "Stock cannot go below what checkouts in progress hold (409).")
    PROVENANCE_UNAVAILABLE = ("catalog.provenance_unavailable",
                              "Provenance records cannot be declared with a product here (422).")
    IMAGE_MISSING = "catalog.image_missing", "Send the image as the multipart field `file` (422)."
    IMAGE_EMPTY = "catalog.image_empty", "The image file is empty (422)."
    IMAGE_UNSUPPORTED = ("catalog.image_unsupported",
                         "The file is not a JPEG, PNG or WebP image (422).")
    IMAGE_TOO_MANY_PIXELS = "catalog.image_too_many_pixels", "The image has too many pixels (422)."
    IMAGE_TOO_LARGE = "catalog.image_too_large", "The image file is over the size limit (413)."
    IMAGE_LIMIT = "catalog.image_limit", "The product has as many images as it may (409)."
    IMAGE_NOT_FOUND = "catalog.image_not_found", "No such image of the product (404)."
    IMAGE_ORDER_INVALID = ("catalog.image_order_invalid",
                           "A new order must list each of the product's images once (422).")
    LAST_PHOTO = ("catalog.last_photo",
                  "A piece for sale keeps at least one photo: add another first (409).")
    FILE_NOT_FOUND = "catalog.file_not_found", "No such stored image file (404)."
    TARIFF_CODE_MISMATCH = ("catalog.tariff_code_mismatch",
                            "A national tariff code must begin with the product's HS code; "
                            "`errors` names the tariff (422).")
