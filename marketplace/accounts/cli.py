import click
from flask import Flask

from marketplace.accounts import service
from marketplace.accounts.models import Role


def register_cli(app: Flask) -> None:
    users = app.cli.group("users", help="Manage user accounts.")(lambda: None)

    @users.command("create-operator")
    @click.argument("email")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", default="Operator")
    def create_operator(email: str, password: str, name: str):
        """Create an operator account."""
        user = service.create_user(email=email, password=password, role=Role.OPERATOR,
                                   name=name, country="KZ", locale="en", currency="KZT")
        click.echo(f"operator {user.email} created ({user.id})")
