from tests.factories import make_buyer
from tests.storefront.helpers import HTML, post_form, sign_in


def test_language_and_currency_choice_is_remembered_for_the_visitor(client):
    response = post_form(client, "/preferences", {"language": "kk", "currency": "JPY",
                                                  "next": "/signin"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/signin"
    page = client.get("/signin", headers=HTML).get_data(as_text=True)
    assert '<html lang="kk">' in page
    assert '<option value="JPY" selected>' in page


def test_unknown_language_or_currency_is_ignored(client):
    post_form(client, "/preferences", {"language": "xx", "currency": "BTC"})
    with client.session_transaction() as session:
        assert "locale" not in session
        assert "currency" not in session


def test_preferences_never_redirect_off_site(client):
    response = post_form(client, "/preferences", {"language": "ru",
                                                  "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_browser_language_is_used_until_the_visitor_chooses(client):
    page = client.get("/signin", headers={**HTML, "Accept-Language": "ru-RU,ru;q=0.9"})
    assert '<html lang="ru">' in page.get_data(as_text=True)


def test_a_signed_in_users_saved_language_and_currency_apply(client):
    sign_in(client, make_buyer(locale="kk", currency="EUR"))
    page = client.get("/signin?next=/x", headers=HTML)
    assert page.status_code == 302  # already signed in
    page = client.get("/signup", headers=HTML).get_data(as_text=True)
    assert '<html lang="kk">' in page
    assert '<option value="EUR" selected>' in page


def test_my_data_downloads_as_a_json_attachment(client):
    import json

    buyer = make_buyer(name="Дана")
    sign_in(client, buyer)
    response = client.get("/account/export", headers=HTML)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="sheber-data-{buyer.id}.json"')
    assert json.loads(response.get_data(as_text=True))["account"]["name"] == "Дана"
