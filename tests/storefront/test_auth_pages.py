from sqlalchemy import select

from marketplace.accounts.models import User
from marketplace.extensions import db
from tests.factories import PASSWORD, make_artisan, make_buyer, make_operator
from tests.storefront.helpers import HTML, csrf_token, post_form, sign_in

SIGNUP = {"name": "Aigerim", "email": "aigerim@example.test", "password": "a long password",
          "role": "buyer", "country": "DE"}


def test_signup_creates_a_buyer_signs_them_in_and_keeps_their_language(client):
    with client.session_transaction() as session:
        session["locale"] = "ru"
    response = post_form(client, "/signup", SIGNUP)
    assert response.status_code == 302
    user = db.session.execute(select(User)).scalar_one()
    assert (user.role, user.country, user.locale) == ("buyer", "DE", "ru")
    with client.session_transaction() as session:
        assert session["user_id"] == user.id
        assert session["locale"] == "ru"
    page = client.get("/", headers=HTML).get_data(as_text=True)
    assert "Aigerim" in page


def test_signup_shows_field_errors_and_writes_nothing(client):
    response = post_form(client, "/signup", {**SIGNUP, "email": "not-an-email",
                                             "password": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Enter a valid email address." in page
    assert "Use a password of at least 10 characters." in page
    assert db.session.execute(select(User)).first() is None


def test_signup_with_a_taken_email_answers_as_a_new_one_without_signing_in(client):
    make_buyer(email="aigerim@example.test")
    response = post_form(client, "/signup", SIGNUP)
    assert response.status_code == 302
    assert "already exists" not in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session
    assert db.session.execute(select(User)).scalar_one().name != "Aigerim"


def test_signup_as_artisan_lands_in_the_workshop(client):
    response = post_form(client, "/signup", {**SIGNUP, "role": "artisan", "country": "KZ"})
    assert response.headers["Location"] == "/workshop/"


def test_signin_with_a_wrong_password_is_refused(client):
    buyer = make_buyer()
    response = post_form(client, "/signin", {"email": buyer.email, "password": "wrong one!"})
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user_id" not in session


def test_signin_returns_to_a_local_next_page_only(client):
    buyer = make_buyer()
    token = csrf_token(client)
    form = {"csrf_token": token, "email": buyer.email, "password": PASSWORD}
    response = client.post("/signin?next=//evil.example/x", data=form, headers=HTML)
    assert response.headers["Location"] == "/"
    client.post("/signout", data={"csrf_token": csrf_token(client)}, headers=HTML)
    form["csrf_token"] = csrf_token(client)
    response = client.post("/signin?next=/artisans/x", data=form, headers=HTML)
    assert response.headers["Location"] == "/artisans/x"


def test_signin_starts_a_new_session_with_a_new_csrf_token(client):
    buyer = make_buyer()
    before = csrf_token(client)
    sign_in(client, buyer)
    with client.session_transaction() as session:
        assert session["csrf_token"] != before


def test_signout_is_a_post_and_forgets_the_user_but_not_the_language(client):
    sign_in(client, make_buyer())
    with client.session_transaction() as session:
        session["locale"] = "kk"
    assert client.get("/signout", headers=HTML).status_code == 405
    response = post_form(client, "/signout")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "user_id" not in session
        assert session["locale"] == "kk"


def test_each_role_signs_in_to_its_own_home(client):
    for user, home in ((make_buyer(), "/"), (make_artisan(), "/workshop/"),
                       (make_operator(), "/console/")):
        response = post_form(client, "/signin", {"email": user.email, "password": PASSWORD})
        assert response.headers["Location"] == home
        post_form(client, "/signout")
