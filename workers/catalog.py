"""Catalogue tasks (queue ``images``): photos made safe and small away from the web process."""

from __future__ import annotations

from celery import shared_task

from marketplace.catalog import images
from workers.app import IDEMPOTENT


@shared_task(**IDEMPOTENT)
def process_image_task(event_id: str, payload: dict) -> str:
    """Consumer of ``catalog.image_uploaded``: make the image's variants. Safe to run twice
    (``process_image`` leaves a processed image alone), so no run-once marker holds a
    transaction open through seconds of decoding and uploads."""
    return images.process_image(payload["image_id"])
