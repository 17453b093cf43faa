"""Celery entry point: ``celery -A workers worker`` and ``celery -A workers beat``.

``workers.celery`` builds the Flask app from the environment on first use, as the web process
does. It is lazy because ``create_app`` itself imports ``workers.app``: an eager app here would
build a second Flask app inside every ``create_app()``.
"""

from __future__ import annotations

# Imported now, while `celery -A` has the working directory on sys.path.
from marketplace import create_app


def __getattr__(name: str):
    if name == "celery":
        global celery
        celery = create_app().extensions["celery"]
        return celery
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
