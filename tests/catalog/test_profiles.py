import pytest

from marketplace.catalog.models import ArtisanProfile
from marketplace.extensions import db
from tests.catalog.conftest import count
from tests.factories import auth_headers, make_artisan, make_buyer, make_operator, make_product

PROFILE = {
    "workshop_name": "Kiiz Üi",
    "bio": {"kk": "Киіз басатын шеберхана.", "en": "A felt workshop."},
    "crafts": ["felt", "textiles", "felt"],
    "since_year": 2001,
    "lineage": "Mother → daughter",
    "processing_days": 10,
}


def test_artisan_creates_then_reads_the_workshop_profile(client):
    headers = auth_headers(make_artisan())
    assert client.get("/api/v1/artisans/me", headers=headers).status_code == 404
    saved = client.put("/api/v1/artisans/me", json=PROFILE, headers=headers)
    assert saved.status_code == 200
    body = client.get("/api/v1/artisans/me?lang=kk", headers=headers).get_json()
    assert body["workshop_name"] == "Kiiz Üi"
    assert body["bio"] == "Киіз басатын шеберхана." and body["lang"] == "kk"
    assert body["translations"]["bio"] == PROFILE["bio"]
    assert body["crafts"] == ["felt", "textiles"]
    assert body["city"] == "Almaty" and body["country"] == "KZ"
    assert body["since_year"] == 2001 and body["processing_days"] == 10


def test_put_replaces_the_profile(client):
    headers = auth_headers(make_artisan())
    client.put("/api/v1/artisans/me", json=PROFILE, headers=headers)
    body = client.put("/api/v1/artisans/me", json={"workshop_name": "New name"},
                      headers=headers).get_json()
    assert body["workshop_name"] == "New name" and body["crafts"] == []
    assert body["lineage"] is None
    assert count(ArtisanProfile) == 1


@pytest.mark.parametrize("user_factory", [make_buyer, make_operator])
def test_only_artisans_have_a_workshop_profile(client, user_factory):
    headers = auth_headers(user_factory())
    assert client.get("/api/v1/artisans/me", headers=headers).status_code == 403
    assert client.put("/api/v1/artisans/me", json=PROFILE, headers=headers).status_code == 403
    assert client.get("/api/v1/artisans/me").status_code == 401
    assert count(ArtisanProfile) == 0


def test_bad_profile_is_422_per_field_and_writes_nothing(client):
    headers = auth_headers(make_artisan())
    response = client.put("/api/v1/artisans/me", headers=headers, json={
        "workshop_name": "", "crafts": ["plastic"], "since_year": 3000, "country": "XX",
        "bio": {"fr": "Atelier"}, "processing_days": 0,
    })
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) >= {
        "workshop_name", "crafts.0", "since_year", "country", "bio.fr", "processing_days"}
    assert count(ArtisanProfile) == 0


def test_public_profile_counts_active_and_verified_products(client):
    artisan = make_artisan()
    client.put("/api/v1/artisans/me", json=PROFILE, headers=auth_headers(artisan))
    make_product(artisan)
    make_product(artisan, provenance_level="L1")
    make_product(artisan, provenance_level="L2")
    make_product(artisan, provenance_level="L1", status="archived")
    make_product()  # someone else's
    body = client.get(f"/api/v1/artisans/{artisan.id}?lang=ru").get_json()
    assert body["counts"] == {"active_products": 3, "verified_products": 2}
    assert body["bio"] == "A felt workshop."  # no Russian: falls back to English
    assert "email" not in body


def test_public_profile_of_a_non_artisan_is_404(client):
    buyer = make_buyer()
    assert client.get(f"/api/v1/artisans/{buyer.id}").status_code == 404
    assert client.get("/api/v1/artisans/nobody").status_code == 404


def test_products_show_their_workshop(client):
    artisan = make_artisan()
    product = make_product(artisan)
    db.session.get(ArtisanProfile, artisan.id).workshop_name = "Saz Studio"
    db.session.commit()
    body = client.get(f"/api/v1/products/{product.id}").get_json()
    assert body["artisan"] == {"id": artisan.id, "workshop_name": "Saz Studio",
                               "city": "Almaty"}
