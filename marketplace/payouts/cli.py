import click
from flask import Flask

from marketplace.payouts import rails, service


def register_cli(app: Flask) -> None:
    payouts = app.cli.group("payouts", help="Artisan payouts.")(lambda: None)

    @payouts.command("run")
    @click.option("--rail", default=rails.BANK_TRANSFER, show_default=True)
    def run(rail: str):
        """Pay every payable balance now (the daily beat job does this)."""
        result = service.run_payouts(rail=rail)
        for skipped in result.skipped:
            click.echo(f"skipped {skipped['artisan_id']}: {skipped['reason']}")
        if result.batch is None:
            click.echo("nothing to pay")
            return
        batch = result.batch
        click.echo(f"batch {batch.id}: {len(batch.payouts)} payout(s), files: "
                   + ", ".join(f.name for f in batch.files))
