import click
from flask import Flask

from marketplace.errors import DomainError
from marketplace.money import CurrencyError, Money
from marketplace.shipping import service


def _errors(exc: DomainError) -> str:
    if not exc.errors:
        return exc.detail
    return "; ".join(f"{field}: {message}" for field, messages in exc.errors.items()
                     for message in messages)


def register_cli(app: Flask) -> None:
    shipping = app.cli.group("shipping", help="Shipping rate tables.")(lambda: None)

    @shipping.command("rates")
    @click.option("--service", "service_code", default=None, help="Only this service.")
    @click.option("--zone", default=None, help="Only this zone.")
    def rates(service_code: str | None, zone: str | None):
        """Print the effective rate tables (file plus operator overrides)."""
        table = service.rate_table()
        click.echo(f"rate table version {table.version} ({table.currency}, packaging "
                   f"{table.packaging_g} g, volumetric divisor {table.volumetric_divisor})")
        for code, spec in table.services.items():
            if service_code and code != service_code:
                continue
            click.echo(f"{code}: {spec.name} via {spec.carrier}, max {spec.max_weight_g} g")
            for zone_code, zone_rates in spec.zones.items():
                if zone and zone_code != zone:
                    continue
                click.echo(f"  {zone_code}: {zone_rates.eta_min_days}-"
                           f"{zone_rates.eta_max_days} days")
                for bracket in zone_rates.brackets:
                    mark = "  (override)" if bracket.overridden else ""
                    click.echo(f"    up to {bracket.up_to_g:>6} g  {bracket.amount.format()}{mark}")

    @shipping.command("set-rate")
    @click.argument("service_code", metavar="SERVICE")
    @click.argument("zone")
    @click.argument("up_to_g", type=int)
    @click.argument("amount", required=False)
    @click.option("--clear", is_flag=True, help="Remove the override (back to the file).")
    def set_rate(service_code: str, zone: str, up_to_g: int, amount: str | None, clear: bool):
        """Set the price (AMOUNT in major units, e.g. 16500 or 16500.50 KZT) of the bracket
        SERVICE ZONE up to UP_TO_G grams; --clear drops the override."""
        try:
            if clear:
                removed = service.clear_rate(service_code, zone, up_to_g)
                click.echo("override removed" if removed else "no override to remove")
                return
            if amount is None:
                raise click.UsageError("AMOUNT is required unless --clear is given")
            try:
                money = Money.from_major(amount, service.rate_table().currency)
            except (CurrencyError, ArithmeticError, ValueError):
                raise click.BadParameter(f"{amount!r} is not an amount",
                                         param_hint="AMOUNT") from None
            table = service.set_rate(service_code, zone, up_to_g, money)
        except DomainError as exc:
            raise click.ClickException(_errors(exc)) from exc
        click.echo(f"{service_code} {zone} up to {up_to_g} g = {money.format()} "
                   f"(rate table version {table.version})")
