"""The artisan's workshop pages over the catalogue, provenance and shipping services."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from marketplace.catalog import browse, images
from marketplace.catalog.models import Product, ProductImage, ProductStatus
from marketplace.extensions import db
from marketplace.orders.models import FulfilmentStatus
from marketplace.provenance import records
from tests.checkout.helpers import fixed_rates, fresh  # noqa: F401  (a fixture)
from tests.factories import make_artisan, make_buyer, make_operator, make_product
from tests.provenance.helpers import EVIDENCE, full_record
from tests.shipping.flow import fulfilments, order_status, paid
from tests.storefront.helpers import HTML, post_form, sign_in

LISTING = {
    "title_kk": "Көк кесе", "title_ru": "Синяя пиала", "title_en": "Blue bowl",
    "description_en": "Thrown on the wheel.", "craft": "ceramics",
    "materials": "red clay,  Glaze ", "techniques": "wheel-throwing", "price": "15000.50",
    "currency": "KZT", "stock": "3", "weight_g": "450", "length_mm": "160", "width_mm": "160",
    "height_mm": "80", "hs_code": "",
}


@pytest.fixture(autouse=True)
def _rates(fixed_rates):  # noqa: F811
    """1 USD = 500 KZT = 0.9 EUR."""


@pytest.fixture
def artisan(client):
    user = make_artisan(name="Aigerim")
    sign_in(client, user)
    return user


def page(client, path: str) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def png(size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (11, 93, 107)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- profile -------------------------------------------------------------------------------

def test_an_artisan_writes_the_workshop_profile_in_three_languages(client, artisan):
    assert "Workshop name" in page(client, "/workshop/profile")
    response = post_form(client, "/workshop/profile", {
        "workshop_name": "Kök Keramika", "bio_kk": "Алматыдағы шеберхана.",
        "bio_en": "A pottery in Almaty.", "city": "Almaty", "country": "KZ",
        "crafts": ["ceramics", "wood"], "since_year": "2009", "lineage": "",
        "processing_days": "7"})
    assert response.status_code == 302
    profile = browse.profile_view(artisan.id)
    assert profile["workshop_name"] == "Kök Keramika"
    assert profile["translations"]["bio"] == {"kk": "Алматыдағы шеберхана.",
                                              "en": "A pottery in Almaty."}
    assert profile["crafts"] == ["ceramics", "wood"]
    assert (profile["since_year"], profile["processing_days"]) == (2009, 7)


def test_profile_mistakes_are_shown_per_field_and_nothing_is_saved(client, artisan):
    response = post_form(client, "/workshop/profile", {
        "workshop_name": "", "city": "Almaty", "country": "KZ", "since_year": "1700",
        "processing_days": "many"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the days you need to make an order ready and pack it" in html
    assert 'value="many"' in html
    response = post_form(client, "/workshop/profile", {
        "workshop_name": "", "city": "Almaty", "country": "KZ", "since_year": "1700",
        "processing_days": "5"})
    html = response.get_data(as_text=True)
    assert "Enter the workshop&#39;s name." in html
    assert "Enter a year from 1900 to this year." in html
    assert browse.profile_view(artisan.id)["counts"]["active_products"] == 0


# --- listings ------------------------------------------------------------------------------

def listed(artisan) -> Product:
    return db.session.execute(db.select(Product).where(Product.artisan_id == artisan.id)
                              ).scalar_one()


def test_an_artisan_lists_a_piece_with_titles_in_kazakh_russian_and_english(client, artisan):
    response = post_form(client, "/workshop/listings/new", LISTING)
    assert response.status_code == 302
    product = listed(artisan)
    assert response.headers["Location"] == f"/workshop/listings/{product.id}"
    assert product.title == {"kk": "Көк кесе", "ru": "Синяя пиала", "en": "Blue bowl"}
    assert product.description == {"en": "Thrown on the wheel."}
    assert (product.price_amount, product.price_currency) == (1_500_050, "KZT")
    assert product.materials == ["red clay", "glaze"]
    assert (product.stock, product.weight_g, product.height_mm) == (3, 450, 80)
    assert product.hs_code is None
    edit = page(client, f"/workshop/listings/{product.id}")
    assert 'value="15000.50"' in edit and 'value="red clay, glaze"' in edit


def test_a_listing_with_wrong_fields_is_refused_field_by_field(client, artisan):
    response = post_form(client, "/workshop/listings/new", {
        **LISTING, "title_kk": "", "title_ru": "", "title_en": "", "price": "15,000.505",
        "stock": "-1", "length_mm": "x", "hs_code": "12"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a price such as 15000 or 149.90." in html
    assert "Enter length, width and height in millimetres, from 1 to 3000." in html
    for unreadable in ("lots", "1e999999999"):
        response = post_form(client, "/workshop/listings/new", {**LISTING, "price": unreadable})
        assert response.status_code == 422, unreadable
        assert "Enter a price such as 15000 or 149.90." in response.get_data(as_text=True)
    assert db.session.execute(db.select(Product)).first() is None

    response = post_form(client, "/workshop/listings/new", {
        **LISTING, "title_kk": "", "title_ru": "", "title_en": "", "stock": "-1",
        "hs_code": "12"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Give the title in at least one language, at most 200 characters." in html
    assert "Enter how many pieces you have, from 0 to 100000." in html
    assert "An HS code is 4 to 10 digits." in html
    assert 'value="Thrown on the wheel."' not in html  # a textarea keeps its text inside
    assert "Thrown on the wheel." in html
    assert db.session.execute(db.select(Product)).first() is None


def test_an_artisan_gives_national_tariff_codes_and_a_wrong_one_is_refused(client, artisan):
    response = post_form(client, "/workshop/listings/new", {
        **LISTING, "hs_code": "691200", "tariff_codes": "eu 69120010, JP: 691200000"})
    assert response.status_code == 302
    product = listed(artisan)
    assert product.tariff_codes == {"EU": "69120010", "JP": "691200000"}
    edit = page(client, f"/workshop/listings/{product.id}")
    assert 'value="EU 69120010, JP 691200000"' in edit

    for typed in ("EU 57049000", "EU", "EU 6912001"):  # another HS6; no code; 7 digits
        response = post_form(client, f"/workshop/listings/{product.id}", {
            **LISTING, "hs_code": "691200", "tariff_codes": typed})
        assert response.status_code == 422, typed
        assert "each code begins with the piece&#39;s HS code" in response.get_data(as_text=True)
        assert fresh(Product, product.id).tariff_codes == {"EU": "69120010", "JP": "691200000"}

    response = post_form(client, f"/workshop/listings/{product.id}", {
        **LISTING, "hs_code": "691200", "tariff_codes": ""})
    assert response.status_code == 302
    assert fresh(Product, product.id).tariff_codes is None


def test_an_artisan_changes_price_and_stock(client, artisan):
    product = make_product(artisan, stock=2)
    response = post_form(client, f"/workshop/listings/{product.id}", {
        **LISTING, "price": "99.90", "currency": "USD", "stock": "10"})
    assert response.status_code == 302
    product = fresh(Product, product.id)
    assert (product.price_amount, product.price_currency, product.stock) == (9_990, "USD", 10)


def test_changing_the_materials_of_a_verified_piece_withdraws_its_label(client, artisan):
    product = make_product(artisan, craft="ceramics")
    records.put_record(product.id, full_record(), artisan_id=artisan.id)
    records.submit_record(product.id, artisan_id=artisan.id)
    records.decide(product.id, operator_id=make_operator().id, decision="approve",
                   level="L1", evidence=EVIDENCE)
    edit = page(client, f"/workshop/listings/{product.id}")
    assert "withdraws the provenance label until it is verified again" in edit
    post_form(client, f"/workshop/listings/{product.id}", {**LISTING, "materials": "porcelain"})
    assert fresh(Product, product.id).provenance_level == "L0"
    assert records.record_view(records.get_record(product.id, user=artisan)
                               )["status"] == "revoked"


def test_a_photo_is_added_with_its_description_and_removed(client, artisan):
    product = make_product(artisan)
    response = post_form(client, f"/workshop/listings/{product.id}/images",
                         {"file": (io.BytesIO(png()), "bowl.png"), "alt": "A blue bowl"},
                         content_type="multipart/form-data")
    assert response.status_code == 302
    edit = page(client, f"/workshop/listings/{product.id}")
    assert "The photo is added." in edit
    [image] = fresh(Product, product.id).images
    assert (image.content_type, image.width, image.alt) == ("image/png", 40, {"en": "A blue bowl"})
    assert "Photo being prepared" in edit  # a worker makes its variants
    images.process_image(image.id)
    edit = page(client, f"/workshop/listings/{product.id}")
    jpeg = next(v for v in fresh(ProductImage, image.id).variants if v["format"] == "jpeg")
    assert f'src="/media/{jpeg["key"]}"' in edit and 'alt="A blue bowl"' in edit
    assert "srcset=" in edit
    post_form(client, f"/workshop/listings/{product.id}/images/{image.id}/remove")
    assert "keeps at least one photo" in page(client, f"/workshop/listings/{product.id}")
    post_form(client, f"/workshop/listings/{product.id}/images",
              {"photos": [(io.BytesIO(png()), "a.png"), (io.BytesIO(png((30, 20))), "b.png")]},
              content_type="multipart/form-data")
    assert "2 photos are added." in page(client, f"/workshop/listings/{product.id}")
    for waiting in fresh(Product, product.id).images[1:]:
        images.process_image(waiting.id)
    post_form(client, f"/workshop/listings/{product.id}/images/{image.id}/remove")
    assert image.id not in [left.id for left in fresh(Product, product.id).images]
    assert len(fresh(Product, product.id).images) == 2


def test_a_file_that_is_not_a_photo_is_refused(client, artisan):
    product = make_product(artisan)
    post_form(client, f"/workshop/listings/{product.id}/images",
              {"file": (io.BytesIO(b"%PDF-1.4 not a photo"), "bowl.png")},
              content_type="multipart/form-data")
    assert "Choose a JPEG, PNG or WebP photo." in page(client, f"/workshop/listings/{product.id}")
    assert fresh(Product, product.id).images == []


def test_an_archived_piece_leaves_the_catalogue_and_the_dashboard(client, artisan):
    product = make_product(artisan, title={"en": "Old bowl"})
    assert "Old bowl" in page(client, "/workshop/")
    assert post_form(client, f"/workshop/listings/{product.id}/archive").status_code == 302
    assert fresh(Product, product.id).status == ProductStatus.ARCHIVED
    assert "Old bowl" not in page(client, "/workshop/")
    assert "Old bowl" not in page(client, "/")


def test_an_archived_piece_offers_no_change_and_refuses_one(client, artisan):
    product = make_product(artisan, status=ProductStatus.ARCHIVED, stock=5)
    edit = page(client, f"/workshop/listings/{product.id}")
    assert "An archived piece cannot be changed." in edit
    assert "Save changes" not in edit and "Archive this piece" not in edit
    response = post_form(client, f"/workshop/listings/{product.id}", {**LISTING, "stock": "1"})
    assert response.status_code == 302
    assert fresh(Product, product.id).stock == 5


def test_another_artisans_listing_is_not_found(client, artisan):
    product = make_product(make_artisan(), stock=4)
    for path in (f"/workshop/listings/{product.id}",
                 f"/workshop/listings/{product.id}/provenance"):
        assert client.get(path, headers=HTML).status_code == 404, path
    for path, data in ((f"/workshop/listings/{product.id}", {**LISTING, "stock": "0"}),
                       (f"/workshop/listings/{product.id}/archive", {}),
                       (f"/workshop/listings/{product.id}/provenance", {"action": "save"}),
                       (f"/workshop/listings/{product.id}/images",
                        {"file": (io.BytesIO(png()), "x.png")})):
        response = post_form(client, path, data)
        assert response.status_code == 404, path
    product = fresh(Product, product.id)
    assert (product.stock, product.status, product.images) == (4, "active", [])
    assert records.get_record(product.id, user=make_operator()) is None


@pytest.mark.parametrize("role", ["buyer", "operator"])
def test_workshop_pages_are_forbidden_to_buyers_and_operators(client, role):
    sign_in(client, make_buyer() if role == "buyer" else make_operator())
    product = make_product()
    for path in ("/workshop/", "/workshop/profile", "/workshop/listings/new",
                 "/workshop/orders", f"/workshop/listings/{product.id}",
                 f"/workshop/listings/{product.id}/provenance"):
        assert client.get(path, headers=HTML).status_code == 403, path
    assert post_form(client, "/workshop/listings/new", LISTING).status_code == 403
    assert db.session.execute(db.select(Product).where(Product.id != product.id)).first() is None


# --- provenance ----------------------------------------------------------------------------

def record_form(record: dict) -> dict:
    """The provenance form's fields for ``record`` (as a browser sends them)."""
    fields = {
        "place-city": record["place"]["city"], "place-region": record["place"]["region"],
        "place-country": record["place"]["country"], "craft": record["craft"],
        "techniques": ", ".join(record["techniques"]),
        "when-availability": record["when"]["availability"],
        "when-started_on": record["when"]["started_on"],
        "when-finished_on": record["when"]["finished_on"], "when-hours": "12",
        "hand_work_share": str(record["hand_work_share"]),
        "design-origin": record["design"]["origin"], "design-motif": record["design"]["motif"],
        # a blank row, as the form always offers one
        "makers-2-name": "", "makers-2-kind": "artisan", "materials-2-name": "",
    }
    for i, maker in enumerate(record["makers"]):
        fields.update({f"makers-{i}-name": maker["name"], f"makers-{i}-kind": maker["kind"],
                       f"makers-{i}-role": maker["role"],
                       f"makers-{i}-place-city": maker["place"]["city"],
                       f"makers-{i}-place-country": maker["place"]["country"].upper()})
    for i, material in enumerate(record["materials"]):
        fields.update({f"materials-{i}-name": material["name"],
                       f"materials-{i}-origin-country": material["origin"]["country"]})
        if material.get("precious_metal"):
            fields.update({f"materials-{i}-precious_metal": "1",
                           f"materials-{i}-fineness": str(material["fineness"]),
                           f"materials-{i}-hallmark": material["hallmark"]})
    fields.update({"dyes-0-name": "madder root", "dyes-0-kind": "natural",
                   "lineage-0-master": "Serik Ospanov", "lineage-0-apprentice": "Aigerim",
                   "lineage-0-since_year": "2012"})
    return fields


def test_the_artisan_fills_the_record_and_sends_it_for_verification(client, artisan):
    product = make_product(artisan, craft="ceramics", materials=["red clay"])
    form = page(client, f"/workshop/listings/{product.id}/provenance")
    assert 'name="makers-0-name"' in form and 'value="Aigerim"' in form  # from the workshop
    assert 'value="red clay"' in form  # from the listing
    response = post_form(client, f"/workshop/listings/{product.id}/provenance",
                         {**record_form(full_record()), "action": "submit"})
    assert response.status_code == 302
    record = records.get_record(product.id, user=artisan)
    assert record.status == "pending"
    assert [m["name"] for m in record.data["makers"]] == ["Aigerim Nurlanovna",
                                                          "Zhetysu Wool Cooperative"]
    assert record.data["materials"][1] == {"name": "silver", "origin": {"country": "KZ"},
                                           "precious_metal": True, "fineness": 925,
                                           "hallmark": "925 KZ assay"}
    assert record.data["when"]["hours"] == 12 and record.data["hand_work_share"] == 95
    assert record.data["lineage"] == [{"master": "Serik Ospanov", "apprentice": "Aigerim",
                                       "since_year": 2012}]
    assert record.data["cultural_value"] is False
    shown = page(client, f"/workshop/listings/{product.id}/provenance")
    assert 'data-status="pending"' in shown


def test_an_incomplete_record_is_kept_as_a_draft_naming_what_is_missing(client, artisan):
    product = make_product(artisan, craft="ceramics")
    response = post_form(client, f"/workshop/listings/{product.id}/provenance", {
        "makers-0-name": "Aigerim", "makers-0-kind": "artisan", "place-city": "Almaty",
        "place-country": "KZ", "craft": "ceramics", "techniques": "sgraffito",
        "materials-0-name": "silver", "materials-0-precious_metal": "1",
        "action": "submit"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Precious metal needs its fineness" in html
    assert "Choose the country the material comes from." in html
    assert "Say whether the piece is ready or made to order." in html
    assert 'id="materials-0-fineness-error"' in html
    assert records.get_record(product.id, user=artisan).status == "draft"


def test_impossible_record_values_are_refused_and_nothing_is_saved(client, artisan):
    product = make_product(artisan)
    response = post_form(client, f"/workshop/listings/{product.id}/provenance", {
        **record_form(full_record()), "materials-1-fineness": "2000",
        "hand_work_share": "150", "action": "save"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the share of hand work, a whole number from 0 to 100." in html
    assert 'value="2000"' in html  # what was typed stays in the form
    assert records.get_record(product.id, user=artisan) is None


def shown_step(html: str) -> str:
    """The step the page shows (the others are in the page, hidden)."""
    import re

    shown = re.findall(r'<section class="step" id="step-(\w+)"[^>]*?(hidden)?>', html)
    return next(step for step, hidden in shown if not hidden)


def test_the_record_form_comes_in_steps_and_a_step_button_saves_the_draft(client, artisan):
    product = make_product(artisan, craft="ceramics", materials=["red clay"])
    path = f"/workshop/listings/{product.id}/provenance"
    html = page(client, path)
    assert shown_step(html) == "who"
    for step in ("who", "where", "how", "materials", "evidence"):
        assert f'id="step-{step}"' in html  # every step's inputs are posted together
    response = post_form(client, path, {**record_form(full_record()), "step": "who",
                                        "go": "where"})
    assert response.status_code == 302 and response.headers["Location"].endswith("?step=where")
    assert records.get_record(product.id, user=artisan).status == "draft"
    assert shown_step(page(client, f"{path}?step=where")) == "where"
    assert shown_step(page(client, f"{path}?step=nonsense")) == "who"


def test_a_mistake_opens_the_step_that_shows_it(client, artisan):
    product = make_product(artisan)
    response = post_form(client, f"/workshop/listings/{product.id}/provenance", {
        **record_form(full_record()), "materials-1-fineness": "2000", "step": "evidence",
        "action": "submit"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert shown_step(html) == "materials"
    assert html.count('class="has-errors"') == 1  # the steps' list marks the one to correct


def test_country_fields_start_at_kazakhstan_with_the_common_origins_first(client):
    user = make_artisan(name="Aigerim", country="DE")
    sign_in(client, user)
    product = make_product(user, craft="ceramics", materials=["wool"])
    html = page(client, f"/workshop/listings/{product.id}/provenance")
    common = html.split('<select id="materials-1-origin-country"')[1].split("</optgroup>")[0]
    codes = [part.split('"')[0] for part in common.split('<option value="')[2:]]
    assert codes[:5] == ["KZ", "RU", "KG", "BY", "AM"]  # Kazakhstan and the EAEU first
    blank_row = html.split('<select id="makers-1-place-country"')[1].split("</select>")[0]
    assert '<option value="KZ" selected>' in blank_row  # a new row starts at Kazakhstan
    # ... yet a row with nothing but its preset country is still a blank row
    response = post_form(client, f"/workshop/listings/{product.id}/provenance", {
        **record_form(full_record()), "makers-2-place-country": "KZ",
        "materials-2-origin-country": "KZ", "action": "save"})
    assert response.status_code == 302
    saved = records.get_record(product.id, user=user).data
    assert len(saved["makers"]) == 2 and len(saved["materials"]) == 2


def test_a_new_record_starts_from_the_artisans_last_answers(client, artisan):
    earlier = make_product(artisan, craft="ceramics", materials=["silver"])
    records.put_record(earlier.id, full_record(), artisan_id=artisan.id)
    product = make_product(artisan, craft="ceramics", materials=["Silver", "felt"])
    html = page(client, f"/workshop/listings/{product.id}/provenance")
    assert 'value="Zhetysu Wool Cooperative"' in html  # the makers of the last record
    assert 'value="Serik Ospanov"' in html  # its lineage
    assert 'id="hand_work_share" name="hand_work_share" type="number" value="95"' in html
    assert records.get_record(product.id, user=artisan) is None  # nothing saved by showing
    first = full_record()["materials"][1]
    assert first["name"] == "silver"  # the listing's "Silver" keeps the last origin of silver
    origin = html.split('<select id="materials-0-origin-country"')[1].split("</select>")[0]
    assert f'<option value="{first["origin"]["country"].upper()}" selected>' in origin


# --- orders to pack ------------------------------------------------------------------------

@pytest.fixture
def paid_order(client, stripe_webhooks):
    """A paid order to Berlin of two pieces by one artisan; the artisan is signed in."""
    potter = make_artisan()
    product = make_product(potter, title={"en": "Kese bowl"}, weight_g=900, stock=5)
    order_id, _, _ = paid(client, (product, 2))
    sign_in(client, potter)
    return order_id, potter


def test_the_artisan_marks_the_pieces_packed(client, paid_order):
    order_id, _ = paid_order
    html = page(client, "/workshop/orders")
    assert "Kese bowl × 2" in html
    [fulfilment] = fulfilments(order_id)
    action = f"/workshop/fulfilments/{fulfilment.id}/packed"
    assert f'action="{action}"' in html
    response = post_form(client, action, {"weight_g": "2100", "length_mm": "300",
                                          "width_mm": "250", "height_mm": "200"})
    assert response.status_code == 302
    [fulfilment] = fulfilments(order_id)
    assert fulfilment.status == FulfilmentStatus.PACKED
    assert (fulfilment.packed_weight_g, fulfilment.packed_height_mm) == (2100, 200)
    assert order_status(order_id) == "fulfilling"
    html = page(client, "/workshop/orders")
    assert "Marked packed." in html
    assert "2100 g, 300 × 250 × 200 mm" in html
    assert "Correct the box" in html  # figures can be corrected until the parcel is made


def test_a_box_lighter_than_its_pieces_is_refused(client, paid_order):
    order_id, _ = paid_order
    [fulfilment] = fulfilments(order_id)
    response = post_form(client, f"/workshop/fulfilments/{fulfilment.id}/packed",
                         {"weight_g": "900", "length_mm": "300", "width_mm": "250",
                          "height_mm": "x"})
    assert response.status_code == 422
    assert "Enter the box&#39;s outer length, width and height in millimetres." in \
        response.get_data(as_text=True)
    response = post_form(client, f"/workshop/fulfilments/{fulfilment.id}/packed",
                         {"weight_g": "900", "length_mm": "300", "width_mm": "250",
                          "height_mm": "200"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "it cannot be lighter than the pieces inside" in html
    assert 'value="900"' in html
    assert fulfilments(order_id)[0].status == FulfilmentStatus.PENDING


def test_another_artisans_fulfilment_cannot_be_packed(client, paid_order):
    order_id, _ = paid_order
    [fulfilment] = fulfilments(order_id)
    post_form(client, "/signout")
    other = make_artisan()
    sign_in(client, other)
    assert "No orders with your pieces yet." in page(client, "/workshop/orders")
    response = post_form(client, f"/workshop/fulfilments/{fulfilment.id}/packed",
                         {"weight_g": "2100", "length_mm": "300", "width_mm": "250",
                          "height_mm": "200"})
    assert response.status_code == 404
    assert fulfilments(order_id)[0].status == FulfilmentStatus.PENDING


WORKSHOP_FORMS = ["/workshop/profile", "/workshop/listings/new"]


@pytest.mark.parametrize("path", WORKSHOP_FORMS)
def test_workshop_forms_without_a_csrf_token_are_refused(client, artisan, path):
    response = client.post(path, data={"workshop_name": "X", **LISTING}, headers=HTML)
    assert response.status_code == 400
    assert db.session.execute(db.select(Product)).first() is None
