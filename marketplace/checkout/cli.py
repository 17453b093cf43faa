import click
from flask import Flask

from marketplace.checkout import payments, service


def register_cli(app: Flask) -> None:
    checkout = app.cli.group("checkout", help="Stock holds and Stripe events.")(lambda: None)

    @checkout.command("expire-reservations")
    def expire_reservations():
        """Release the stock of unpaid orders whose hold has lapsed (the beat job does this)."""
        click.echo(f"{service.expire_reservations()} order(s) expired")

    @checkout.command("apply-event")
    @click.argument("event_id")
    def apply_event(event_id: str):
        """Process a stored Stripe event again if it is not processed yet (e.g. after an outage)."""
        click.echo(payments.apply_stripe_event(event_id))
