import click
from flask import Flask

from marketplace.provenance import labels, signing


def register_cli(app: Flask) -> None:
    provenance = app.cli.group("provenance", help="Provenance labels and their signing keys.")(
        lambda: None)

    @provenance.command("rotate-key")
    def rotate_key():
        """Start signing new labels with a new Ed25519 key; labels signed before keep verifying."""
        try:
            old_id, new_id = labels.rotate_signing_key()
        except signing.SigningKeyError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"signing key rotated: {old_id} retired, {new_id} active")

    @provenance.command("public-key")
    def public_key():
        """Print the current public key (base64 of the raw 32 bytes) and its key id."""
        keys = labels.public_keys()
        click.echo(f"{keys['key_id']} {keys['public_key']}")
