import click
from flask import Flask

from marketplace.errors import DomainError
from marketplace.fx import service
from marketplace.fx.sources import RateSourceError


def register_cli(app: Flask) -> None:
    fx = app.cli.group("fx", help="Exchange rates.")(lambda: None)

    @fx.command("refresh")
    def refresh():
        """Reload rates from FX_SOURCE_URL (or the bundled rates file) and reprice products."""
        try:
            count = service.refresh_rates()
        except RateSourceError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{count} rates stored")

    @fx.command("set-override")
    @click.argument("currency")
    @click.argument("rate")
    def set_override(currency: str, rate: str):
        """Pin CURRENCY at RATE units per US dollar."""
        try:
            result = service.set_override(currency, rate)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from exc
        click.echo(f"{result.currency} pinned at {result.effective} per USD")

    @fx.command("clear-override")
    @click.argument("currency")
    def clear_override(currency: str):
        """Return CURRENCY to the source's rate."""
        try:
            result = service.clear_override(currency)
        except DomainError as exc:
            raise click.ClickException(exc.detail) from exc
        if result is not None:
            click.echo(f"{result.currency} back to {result.rate} per USD ({result.source})")
