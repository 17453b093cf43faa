"""Catalogue tasks (queue ``images``): photos made safe and small away from the web process."""

from __future__ import annotations

from celery import shared_task

from marketplace.catalog import images
from marketplace.community import reviews
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT)
def process_image_task(event_id: str, payload: dict) -> str:
    """Consumer of ``catalog.image_uploaded``: make the image's variants. Safe to run twice
    (``process_image`` leaves a processed image alone), so no run-once marker holds a
    transaction open through seconds of decoding and uploads."""
    return images.process_image(payload["image_id"])


@shared_task(**IDEMPOTENT)
def delete_unused_files_task(event_id: str, payload: dict) -> int:
    """Consumer of ``community.files_unused``: delete the photo files no review or product
    shows any more (a deleted account's review photos). Deleting twice deletes nothing more."""
    return reviews.delete_unused_files(payload["keys"])
