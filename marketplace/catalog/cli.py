import click
from flask import Flask
from sqlalchemy import select

from marketplace.catalog import images
from marketplace.catalog.models import ImageState, ProductImage
from marketplace.extensions import db


def register_cli(app: Flask) -> None:
    catalog = app.cli.group("catalog", help="The catalogue.")(lambda: None)

    @catalog.command("process-images")
    def process_images():
        """Make the variants of every image still waiting for them (uploads a worker never
        reached, and images stored before the photo pipeline, which are served no more as
        they arrived)."""
        waiting = db.session.execute(select(ProductImage.id).where(
            ProductImage.state == ImageState.PROCESSING)).scalars().all()
        db.session.rollback()
        states = [images.process_image(image_id) for image_id in waiting]
        click.echo(f"{len(waiting)} images processed: {states.count(ImageState.READY)} ready, "
                   f"{states.count(ImageState.FAILED)} failed")
