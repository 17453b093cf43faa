"""``flask seed demo``: the catalogue, its provenance and the payouts ledger add their parts.

Each part must be idempotent: running the command twice leaves the same data.
"""

from __future__ import annotations

import click
from flask import Flask

from marketplace.catalog import seed as catalog_seed
from marketplace.payouts import seed as payouts_seed
from marketplace.provenance import seed as provenance_seed

# In this order: provenance verifies the catalogue's pieces.
DEMO_SEEDS = (("catalog", catalog_seed.seed_demo), ("provenance", provenance_seed.seed_demo),
              ("payouts", payouts_seed.seed_demo))


def run_demo_seed() -> list[str]:
    return [f"{domain}: {seed_demo()}" for domain, seed_demo in DEMO_SEEDS]


def register_cli(app: Flask) -> None:
    seed = app.cli.group("seed", help="Load data.")(lambda: None)

    @seed.command("demo")
    def demo():
        """Seed the demo catalogue of Almaty workshops (idempotent)."""
        for line in run_demo_seed():
            click.echo(line)
