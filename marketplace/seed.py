"""``flask seed demo``: every domain that has ``seed.py`` with ``seed_demo()`` adds its part.

Each part must be idempotent: running the command twice leaves the same data.
"""

from __future__ import annotations

import importlib
import importlib.util

import click
from flask import Flask

from marketplace import DOMAINS


def run_demo_seed() -> list[str]:
    done = []
    for domain in DOMAINS:
        name = f"marketplace.{domain}.seed"
        if importlib.util.find_spec(f"marketplace.{domain}") is None:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        summary = module.seed_demo()
        done.append(f"{domain}: {summary}")
    return done


def register_cli(app: Flask) -> None:
    seed = app.cli.group("seed", help="Load data.")(lambda: None)

    @seed.command("demo")
    def demo():
        """Seed the demo catalogue of Almaty workshops (idempotent)."""
        for line in run_demo_seed():
            click.echo(line)
