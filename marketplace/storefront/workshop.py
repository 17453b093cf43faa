"""The artisan's workshop (/workshop): profile, listings with photos, provenance records,
orders to pack and the payouts ledger. Each view reads the form, calls one service and
renders."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from marketplace.catalog import browse, images, writes
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.images import MAX_IMAGES_PER_PRODUCT, PayloadTooLarge
from marketplace.catalog.models import ProductStatus
from marketplace.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from marketplace.i18n import current_language
from marketplace.money import LISTING_CURRENCIES, Money
from marketplace.orders import service as order_service
from marketplace.orders.schemas import order_out
from marketplace.payouts import service as payouts
from marketplace.payouts.schemas import payout_out
from marketplace.provenance import records
from marketplace.shipping import packing
from marketplace.storefront import insights, record_form
from marketplace.storefront.auth import countries_common_first, countries_for_language
from marketplace.storefront.forms import (
    general_key,
    minor_units,
    optional_text,
    place_errors,
    tags,
    text,
    translated,
    whole_number,
)
from marketplace.storefront.messages import message_for
from marketplace.storefront.pages import html_errors, page_user, present_listings, roles_required

bp = html_errors(Blueprint("workshop", __name__, url_prefix="/workshop"))

PAGE_SIZE = 50
ORDERS_PAGE_SIZE = 24
# What the pack form is offered for (pack_fulfilment has the rule and says no otherwise).


def _crafts() -> list[dict]:
    return browse.crafts(current_language())


def _craft_names() -> dict[str, str]:
    return {craft["code"]: craft["name"] for craft in _crafts()}


@bp.get("/")
@roles_required("artisan")
def dashboard():
    user = page_user()
    profile = browse.profile_view(user.id, current_language())
    page = browse.list_products(artisan=user.id, limit=PAGE_SIZE,
                                cursor=request.args.get("cursor") or None,
                                statuses=(ProductStatus.DRAFT, ProductStatus.ACTIVE))
    listings = present_listings(page.products, rates=page.rates)
    next_url = url_for("workshop.dashboard", cursor=page.next_cursor) if page.next_cursor else None
    return render_template("workshop/dashboard.html", profile=profile, listings=listings,
                           next_url=next_url, craft_names=_craft_names(),
                           missing_names=_missing_names(),
                           charts=insights.workshop_charts(user.id))


# --- profile -------------------------------------------------------------------------------

def _profile_message(field: str) -> str:
    messages = {
        "workshop_name": _("Enter the workshop's name."),
        "bio": _("A biography is at most 5000 characters in each language."),
        "city": _("Enter the city."),
        "country": _("Choose the country."),
        "crafts": _("Choose from the list of crafts."),
        "since_year": _("Enter a year from 1900 to this year."),
        "lineage": _("At most 2000 characters."),
        "processing_days": _("Enter the days you need to make an order ready and pack it, "
                             "from 1 to 90."),
    }
    return messages.get(field, _("Check this field."))


def _first_segment(field: str) -> str:
    return field.split(".")[0]


def _render_profile(form: dict, errors: dict, status: int = 200):
    return render_template("workshop/profile.html", form=form, errors=errors, crafts=_crafts(),
                           countries=countries_for_language(current_language())), status


@bp.get("/profile")
@roles_required("artisan")
def profile():
    view = browse.profile_view(page_user().id, current_language())
    form = {"workshop_name": view["workshop_name"], "bio": view["translations"]["bio"],
            "city": view["city"], "country": view["country"], "crafts": view["crafts"],
            "since_year": view["since_year"] or "", "lineage": view["lineage"] or "",
            "processing_days": view["processing_days"]}
    return _render_profile(form, {})


@bp.post("/profile")
@roles_required("artisan")
def save_profile():
    errors: dict[str, str] = {}
    data = {
        "workshop_name": text("workshop_name"), "bio": translated("bio"),
        "city": text("city"), "country": text("country"),
        "crafts": request.form.getlist("crafts"),
        "since_year": whole_number("since_year", errors, _profile_message("since_year"),
                                   required=False),
        "lineage": optional_text("lineage"),
        "processing_days": whole_number("processing_days", errors,
                                        _profile_message("processing_days")),
    }
    if not errors:
        try:
            writes.save_profile(page_user(), data)
        except ValidationFailed as exc:
            errors = place_errors(exc.errors, _profile_message, _first_segment)
        else:
            flash(_("Your workshop profile is saved."), "success")
            return redirect(url_for("workshop.dashboard"))
    form = {**data, "since_year": text("since_year"), "processing_days": text("processing_days"),
            "lineage": text("lineage")}
    return _render_profile(form, errors, 422)


# --- listings ------------------------------------------------------------------------------

def _listing_message(field: str) -> str:
    messages = {
        "title": _("Give the title in at least one language, at most 200 characters."),
        "description": _("A description is at most 5000 characters in each language."),
        "craft": _("Choose a craft."),
        "materials": _("Separate entries with commas: up to 20, each at most 60 characters."),
        "techniques": _("Separate entries with commas: up to 20, each at most 60 characters."),
        "price": _("Enter a price such as 15000 or 149.90."),
        "currency": _("Choose the currency of the price."),
        "stock": _("Enter how many pieces you have, from 0 to 100000."),
        "weight_g": _("Enter the weight in grams, from 1 to 100000."),
        "dimensions": _("Enter length, width and height in millimetres, from 1 to 3000."),
        "hs_code": _("An HS code is 4 to 10 digits."),
        "tariff_codes": _("Write each tariff and its code, such as EU 57049000, US 5704900000: "
                          "each code begins with the piece's HS code and has as many digits "
                          "as its tariff uses."),
    }
    if field.startswith("tariff_codes."):  # the tariff's own key: one field shows them all
        field = "tariff_codes"
    return messages.get(field, _("Check this field."))


def _listing_field(field: str) -> str:
    """Which part of the listing form shows a catalogue error key."""
    first = field.split(".")[0]
    if first == "price" and field.endswith("currency"):
        return "currency"
    return {"dimensions_mm": "dimensions"}.get(first, first)


def _listing_from_form(errors: dict[str, str]) -> dict:
    currency = text("currency")
    price = None
    if currency not in LISTING_CURRENCIES:
        errors["currency"] = _listing_message("currency")
    else:
        amount = minor_units(text("price"), currency)
        if amount is None:
            errors["price"] = _listing_message("price")
        else:
            price = Money(amount, currency)
    # Stock, weight and size may wait (the piece stays a draft); a size is all three sides.
    sides = {}
    for side, name in (("l", "length_mm"), ("w", "width_mm"), ("h", "height_mm")):
        sides[side] = whole_number(name, errors, _listing_message("dimensions"), required=False)
        if name in errors:
            errors["dimensions"] = errors.pop(name)
    if any(value is not None for value in sides.values()) and None in sides.values():
        errors["dimensions"] = _listing_message("dimensions")
    data = {
        "title": translated("title"), "description": translated("description"),
        "craft": text("craft"), "materials": tags("materials"), "techniques": tags("techniques"),
        "price": {"amount": price.amount, "currency": price.currency} if price else None,
        "stock": whole_number("stock", errors, _listing_message("stock"), required=False),
        "weight_g": whole_number("weight_g", errors, _listing_message("weight_g"),
                                 required=False),
        "dimensions_mm": sides if None not in sides.values() else None,
        "hs_code": optional_text("hs_code"),
        "tariff_codes": _tariff_codes_from_form(errors),
    }
    return {key: value for key, value in data.items()
            if value is not None or key in ("price", "hs_code")}


def _tariff_codes_from_form(errors: dict[str, str]) -> dict[str, str] | None:
    """``EU 57049000, US 5704900000`` as ``{"EU": "57049000", "US": "5704900000"}``."""
    codes: dict[str, str] = {}
    for part in text("tariff_codes").split(","):
        words = part.replace(":", " ").split()
        if not words:
            continue
        if len(words) != 2:
            errors["tariff_codes"] = _listing_message("tariff_codes")
            return None
        codes[words[0].upper()] = words[1]
    return codes


def tariff_codes_text(codes: dict[str, str] | None) -> str:
    return ", ".join(f"{tariff} {code}" for tariff, code in sorted((codes or {}).items()))


def _typed_listing() -> dict:
    """The listing form as typed, to show again with its errors."""
    return {
        "title": translated("title"), "description": translated("description"),
        "craft": text("craft"), "materials": text("materials"), "techniques": text("techniques"),
        "price": text("price"), "currency": text("currency"), "stock": text("stock"),
        "weight_g": text("weight_g"), "length_mm": text("length_mm"),
        "width_mm": text("width_mm"), "height_mm": text("height_mm"), "hs_code": text("hs_code"),
        "tariff_codes": text("tariff_codes"),
    }


def _listing_form(view: dict) -> dict:
    price = Money(view["price"]["amount"], view["price"]["currency"])
    return {
        "title": view["translations"]["title"], "description": view["translations"]["description"],
        "craft": view["craft"], "materials": ", ".join(view["materials"]),
        "techniques": ", ".join(view["techniques"]), "price": str(price.major),
        "currency": price.currency, "stock": view["stock"], "weight_g": view["weight_g"] or "",
        "length_mm": view["dimensions_mm"]["l"] or "", "width_mm": view["dimensions_mm"]["w"] or "",
        "height_mm": view["dimensions_mm"]["h"] or "", "hs_code": view["hs_code_override"] or "",
        "tariff_codes": tariff_codes_text(view["tariff_codes"]),
    }


def _own_listing(product_id: str):
    """The signed-in artisan's own product; another artisan's is not found (as in the API)."""
    return writes.owned_product(page_user().id, product_id)


def _listing_view(product) -> dict:
    return present_listings([product])[0]


def _missing_names() -> dict[str, str]:
    return {"photo": _("at least one photo"), "title": _("a title"),
            "description": _("a description in at least one language"),
            "price": _("a price"), "stock": _("at least one piece in stock"),
            "weight": _("the weight of one piece"), "size": _("the size of one piece")}


def _render_listing(form: dict, errors: dict, *, product=None, status: int = 200):
    listing = _listing_view(product) if product is not None else None
    actions = writes.product_actions(product) if product is not None else {}
    return render_template("workshop/listing.html", form=form, errors=errors, listing=listing,
                           actions=actions, crafts=_crafts(), currencies=LISTING_CURRENCIES,
                           missing_names=_missing_names(),
                           max_photos=MAX_IMAGES_PER_PRODUCT), status


PHOTO_FORMS = {"workshop.create_listing", "workshop.add_image"}


@bp.url_value_preprocessor
def _allow_photo_uploads(endpoint, values) -> None:
    """A form carrying photos may be as large as a listing's photos together. Set before the
    body is read: URL preprocessors run before the CSRF check parses the form."""
    if endpoint in PHOTO_FORMS:
        request.max_content_length = (
            MAX_IMAGES_PER_PRODUCT * current_app.config["MAX_IMAGE_BYTES"] + 1024 * 1024)


def _uploaded_photos() -> list[bytes]:
    max_bytes = current_app.config["MAX_IMAGE_BYTES"]
    files = [*request.files.getlist("photos"), *request.files.getlist("file")]
    return [upload.stream.read(max_bytes + 1) for upload in files if upload.filename]


def _add_photos(product_id: str, photos: list[bytes], alt: dict | None = None) -> bool:
    """Add the photos, flashing what went wrong; True when they were added."""
    max_bytes = current_app.config["MAX_IMAGE_BYTES"]
    try:
        images.add_images(page_user(), product_id, photos or [None], max_bytes=max_bytes,
                          alt=alt)
    except ValidationFailed as refused:
        flash(message_for(refused, default=_("Choose a JPEG, PNG or WebP photo.")), "error")
    except PayloadTooLarge as refused:
        flash(message_for(refused, default=_("A photo can be at most %(mb)s MB.",
                                             mb=max_bytes // (1024 * 1024))), "error")
    except Conflict as refused:
        flash(message_for(refused, default=_("A listing has at most %(count)s photos.",
                                             count=images.MAX_IMAGES_PER_PRODUCT)), "error")
    else:
        return True
    return False


@bp.get("/listings/new")
@roles_required("artisan")
def new_listing():
    form = {"title": {}, "description": {}, "craft": "", "materials": "", "techniques": "",
            "price": "", "currency": "KZT", "stock": 1, "weight_g": "", "length_mm": "",
            "width_mm": "", "height_mm": "", "hs_code": "", "tariff_codes": ""}
    return _render_listing(form, {})


@bp.post("/listings/new")
@roles_required("artisan")
def create_listing():
    errors: dict[str, str] = {}
    data = _listing_from_form(errors)
    photos = _uploaded_photos()
    if not errors:
        try:
            product = writes.create_product(page_user(), data)
        except ValidationFailed as exc:
            errors = place_errors(exc.errors, _listing_message, _listing_field)
        else:
            if photos and _add_photos(product.id, photos):
                flash(_("The piece is saved with its photos; they are being prepared."),
                      "success")
            elif not photos:
                flash(_("The piece is saved as a draft. Add photos and its provenance next."),
                      "success")
            return redirect(url_for("workshop.edit_listing", product_id=product.id))
    return _render_listing(_typed_listing(), errors, status=422)


@bp.get("/listings/<product_id>")
@roles_required("artisan")
def edit_listing(product_id: str):
    product = _own_listing(product_id)
    return _render_listing(_listing_form(_listing_view(product)), {}, product=product)


@bp.post("/listings/<product_id>")
@roles_required("artisan")
def update_listing(product_id: str):
    product = _own_listing(product_id)
    if not writes.product_actions(product)["edit"]:
        flash(_("An archived piece cannot be changed."), "error")
        return redirect(url_for("workshop.dashboard"))
    errors: dict[str, str] = {}
    data = _listing_from_form(errors)
    if not errors:
        try:
            writes.update_product(page_user(), product_id, data)
        except ValidationFailed as exc:
            errors = place_errors(exc.errors, _listing_message, _listing_field)
        except Conflict as refused:
            if refused.code != CatalogError.STOCK_BELOW_RESERVED:
                raise  # the piece changed meanwhile: the error page says so
            errors = {"stock": message_for(refused)}
        else:
            flash(_("Your changes are saved."), "success")
            return redirect(url_for("workshop.edit_listing", product_id=product_id))
    return _render_listing(_typed_listing(), errors, product=product, status=422)


@bp.post("/listings/<product_id>/images")
@roles_required("artisan")
def add_image(product_id: str):
    _own_listing(product_id)
    photos = _uploaded_photos()
    alt = {current_language(): text("alt")} if text("alt") else None
    if _add_photos(product_id, photos, alt):
        flash(_("The photo is added.") if len(photos) == 1 else
              _("%(count)s photos are added.", count=len(photos)), "success")
    return redirect(url_for("workshop.edit_listing", product_id=product_id))


@bp.post("/listings/<product_id>/images/<image_id>/move")
@roles_required("artisan")
def move_image(product_id: str, image_id: str):
    _own_listing(product_id)
    errors: dict[str, str] = {}
    to = whole_number("to", errors, "")
    if to is not None:
        images.move_image(page_user(), product_id, image_id, to=to)
        flash(_("The photos are in their new order."), "success")
    return redirect(url_for("workshop.edit_listing", product_id=product_id))


@bp.post("/listings/<product_id>/images/<image_id>/remove")
@roles_required("artisan")
def remove_image(product_id: str, image_id: str):
    try:
        images.delete_image(page_user(), product_id, image_id)
    except Conflict as refused:
        flash(message_for(refused, default=_("A piece for sale keeps at least one photo: add "
                                             "another first.")), "error")
    else:
        flash(_("The photo is removed."), "success")
    return redirect(url_for("workshop.edit_listing", product_id=product_id))


@bp.post("/listings/<product_id>/archive")
@roles_required("artisan")
def archive_listing(product_id: str):
    writes.archive_product(page_user(), product_id)
    flash(_("The piece is archived: buyers no longer see it; past orders keep it."), "success")
    return redirect(url_for("workshop.dashboard"))


# --- provenance ----------------------------------------------------------------------------

def _render_provenance(product, record: dict, errors: dict, status: int = 200, *,
                       step: str | None = None):
    user = page_user()
    listing = _listing_view(product)
    view = records.record_view(records.get_record(product.id, user=user),
                               product_id=product.id, product_craft=product.craft)
    missing = [record_form.error_message(key) for key in
               dict.fromkeys(general_key(field) for field in view["missing"])]
    return render_template(
        "workshop/provenance.html", listing=listing, view=view, record=record,
        rows=record_form.with_blank_rows(record), errors=errors, missing=missing,
        steps=record_form.STEP_NAMES, current=record_form.current_step(step, errors),
        failing_steps={record_form.step_of(field) for field in errors},
        home_country=record_form.HOME_COUNTRY,
        crafts=_crafts(), countries=countries_common_first(current_language()),
        maker_kinds=record_form.MAKER_KINDS, dye_kinds=record_form.DYE_KINDS,
        availability=record_form.AVAILABILITY,
        design_origins=record_form.DESIGN_ORIGINS), status


@bp.get("/listings/<product_id>/provenance")
@roles_required("artisan")
def provenance_record(product_id: str):
    user = page_user()
    product = _own_listing(product_id)
    stored = records.get_record(product_id, user=user)
    if stored is not None:
        record = stored.data
    else:
        record = record_form.starting_record(
            _listing_view(product), browse.profile_view(user.id, current_language()),
            user.name, last=records.latest_record_data(user.id))
    return _render_provenance(product, record, {}, step=request.args.get("step"))


@bp.post("/listings/<product_id>/provenance")
@roles_required("artisan")
def save_provenance(product_id: str):
    user = page_user()
    product = _own_listing(product_id)
    record = record_form.record_from_form()
    submitting = request.form.get("action") == "submit"
    going = text("go")  # a step button: save the draft, then open that step
    step = going or text("step")
    try:
        records.put_record(product_id, record, artisan_id=user.id)
    except ValidationFailed as exc:
        return _render_provenance(product, record,
                                  place_errors(exc.errors, record_form.error_message), 422,
                                  step=step)
    if not submitting:
        if not going:
            flash(_("The provenance record is saved as a draft."), "success")
        return redirect(url_for("workshop.provenance_record", product_id=product_id,
                                step=record_form.current_step(step, {})))
    try:
        records.submit_record(product_id, artisan_id=user.id)
    except ValidationFailed as exc:
        flash(_("Saved as a draft. Complete the marked fields to send it for verification."),
              "error")
        return _render_provenance(product, record,
                                  place_errors(exc.errors, record_form.error_message), 422,
                                  step=step)
    except InvalidTransition as refused:
        flash(message_for(refused, default=_("This record is already verified. Change it first "
                                             "to send it again.")), "error")
    else:
        flash(_("Sent for verification. An operator will check it."), "success")
    return redirect(url_for("workshop.provenance_record", product_id=product_id))


# --- orders to pack ------------------------------------------------------------------------

def _pack_message(field: str) -> str:
    if field == "weight_g":
        return _("Enter the weight of the packed box in grams, packaging included; it cannot "
                 "be lighter than the pieces inside.")
    return _("Enter the box's outer length, width and height in millimetres.")


def _pack_field(field: str) -> str:
    return "dimensions" if field.startswith("dimensions") else field


def _packable(order, fulfilment_id: str) -> bool:
    fulfilment = next(f for f in order.fulfilments if f.id == fulfilment_id)
    return packing.pack_refusal(order, fulfilment) is None


def _render_orders(*, errors: dict | None = None, typed: dict | None = None, status: int = 200):
    user = page_user()
    found, next_cursor = order_service.list_orders(user, limit=ORDERS_PAGE_SIZE,
                                            cursor=request.args.get("cursor") or None)
    rows = []
    for order in found:
        view = order_out(order, user)
        for fulfilment in view["fulfilments"]:
            rows.append({"order": view, "fulfilment": fulfilment,
                         "packable": _packable(order, fulfilment["id"])})
    next_url = url_for("workshop.orders", cursor=next_cursor) if next_cursor else None
    return render_template("workshop/orders.html", rows=rows, next_url=next_url,
                           errors=errors or {}, typed=typed or {}), status


@bp.get("/orders")
@roles_required("artisan")
def orders():
    return _render_orders()


@bp.post("/fulfilments/<fulfilment_id>/packed")
@roles_required("artisan")
def mark_packed(fulfilment_id: str):
    errors: dict[str, str] = {}
    weight = whole_number("weight_g", errors, _pack_message("weight_g"))
    sides = [whole_number(name, errors, _pack_message("dimensions"))
             for name in ("length_mm", "width_mm", "height_mm")]
    if any(name in errors for name in ("length_mm", "width_mm", "height_mm")):
        errors = {key: value for key, value in errors.items() if not key.endswith("_mm")}
        errors["dimensions"] = _pack_message("dimensions")
    if not errors:
        try:
            packing.pack_fulfilment(fulfilment_id, page_user(), weight_g=weight,
                                      length_mm=sides[0], width_mm=sides[1], height_mm=sides[2])
        except ValidationFailed as exc:
            errors = place_errors(exc.errors, _pack_message, _pack_field)
        except InvalidTransition as refused:
            flash(message_for(refused, default=_(
                "These pieces can no longer be marked packed: the parcel has been made or the "
                "order has changed.")), "error")
            return redirect(url_for("workshop.orders"))
        else:
            flash(_("Marked packed. Sheber will collect the box and make the parcel."),
                  "success")
            return redirect(url_for("workshop.orders"))
    typed = {name: text(name) for name in ("weight_g", "length_mm", "width_mm", "height_mm")}
    return _render_orders(errors={fulfilment_id: errors}, typed={fulfilment_id: typed},
                          status=422)



# --- payouts -------------------------------------------------------------------------------

def _account_message(field: str) -> str:
    if field == "iban":
        return _("Enter a valid IBAN, e.g. KZ88 722K ZT20 6910 0100: its check digits are "
                 "verified.")
    if field == "holder_name":
        return _("Enter the account holder's legal name as the bank has it.")
    if field == "iin_bin":
        return _("Enter the holder's IIN or BIN: 12 digits, the last one a check digit.")
    if field == "kbe":
        return _("Enter the beneficiary code (КБе): two digits, e.g. 19 for an individual "
                 "entrepreneur, 17 for a company.")
    return _("Enter the bank's BIC: 8 or 11 letters and digits, the bank of the IBAN.")


ACCOUNT_FIELDS = ("iban", "bic", "holder_name", "iin_bin", "kbe")


def _render_payouts(*, errors: dict | None = None, typed: dict | None = None,
                    status: int = 200):
    user = page_user()
    found, next_cursor = payouts.artisan_payouts(user.id, limit=ORDERS_PAGE_SIZE,
                                                 cursor=request.args.get("cursor") or None)
    try:
        account = payouts.payout_account(user)
    except NotFound:
        account = None  # no workshop profile yet
    form = typed or {
        "iban": (account.payout_iban if account else None) or "",
        "bic": (account.payout_bic if account else None) or "",
        "holder_name": (account.payout_holder_name if account else None) or "",
        "iin_bin": (account.payout_iin_bin if account else None) or "",
        "kbe": (account.payout_kbe if account else None) or ""}
    return render_template(
        "workshop/payouts.html", payouts=[payout_out(p) for p in found],
        pending=payouts.pending_balances(user.id),
        hold_days=int(current_app.config["PAYOUT_HOLD_DAYS"]), has_profile=account is not None,
        form=form, errors=errors or {},
        next_url=url_for("workshop.payouts_page", cursor=next_cursor) if next_cursor else None
    ), status


@bp.get("/payouts")
@roles_required("artisan")
def payouts_page():
    return _render_payouts()


@bp.post("/payouts/account")
@roles_required("artisan")
def save_payout_account():
    try:
        payouts.set_payout_account(page_user(), iban=text("iban"), bic=text("bic"),
                                   holder_name=text("holder_name"), iin_bin=text("iin_bin"),
                                   kbe=text("kbe"))
    except ValidationFailed as exc:
        return _render_payouts(errors=place_errors(exc.errors, _account_message),
                               typed={name: text(name) for name in ACCOUNT_FIELDS},
                               status=422)
    except NotFound as refused:
        flash(message_for(refused), "error")
        return redirect(url_for("workshop.profile"))
    flash(_("Your bank account for payouts is saved."), "success")
    return redirect(url_for("workshop.payouts_page"))
