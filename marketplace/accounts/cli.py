import click
from flask import Flask
from sqlalchemy import select

from marketplace.accounts import service, twofactor
from marketplace.accounts.models import Role, User
from marketplace.extensions import db


def _show_second_factor(user: User, secret: str, codes: list[str]) -> None:
    click.echo("second factor (shown this once; store it in an authenticator app):")
    click.echo(f"  secret: {secret}")
    click.echo(f"  uri:    {twofactor.provisioning_uri(user, secret)}")
    click.echo("  recovery codes: " + " ".join(codes))


def register_cli(app: Flask) -> None:
    users = app.cli.group("users", help="Manage user accounts.")(lambda: None)

    @users.command("create-operator")
    @click.argument("email")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", default="Operator")
    @click.option("--second-factor/--no-second-factor", default=True,
                  help="Enrol a TOTP second factor now and print its secret once (default).")
    def create_operator(email: str, password: str, name: str, second_factor: bool):
        """Create an operator account."""
        user = service.create_user(email=email, password=password, role=Role.OPERATOR,
                                   name=name, country="KZ", locale="en", currency="KZT")
        click.echo(f"operator {user.email} created ({user.id})")
        if second_factor:
            secret, codes = twofactor.enrol_now(user.id)
            _show_second_factor(user, secret, codes)

    @users.command("enrol-2fa")
    @click.argument("email")
    def enrol_second_factor(email: str):
        """Give an account a new TOTP second factor (replacing any) and print it once."""
        user = db.session.execute(select(User).where(
            User.email == service.normalise_email(email))).scalar_one_or_none()
        if user is None:
            raise click.ClickException(f"no account {email}")
        secret, codes = twofactor.enrol_now(user.id)
        _show_second_factor(user, secret, codes)
