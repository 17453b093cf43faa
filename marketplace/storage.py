"""Where uploaded files live. Keys are content hashes, so a file never changes under its key
(which lets ``/media/<key>`` be cached forever) and uploading the same bytes twice stores once.

``LocalStorage`` keeps files in ``UPLOAD_FOLDER``; another backend (S3, ...) implements the same
four methods and is returned by ``get_storage``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app

KEY_PATTERN = re.compile(r"[0-9a-f]{64}\.(?:jpg|png|webp)")


def content_key(data: bytes, extension: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()}.{extension}"


def valid_key(key: str) -> bool:
    return bool(KEY_PATTERN.fullmatch(key))


class Storage(Protocol):
    def save(self, data: bytes, extension: str) -> str: ...

    def exists(self, key: str) -> bool: ...

    def path(self, key: str) -> Path | None: ...

    def delete(self, key: str) -> None: ...


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _file(self, key: str) -> Path:
        if not valid_key(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key[:2] / key

    def save(self, data: bytes, extension: str) -> str:
        key = content_key(data, extension)
        target = self._file(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return key

    def exists(self, key: str) -> bool:
        return valid_key(key) and self._file(key).is_file()

    def path(self, key: str) -> Path | None:
        return self._file(key) if self.exists(key) else None

    def delete(self, key: str) -> None:
        if valid_key(key):
            self._file(key).unlink(missing_ok=True)


def get_storage() -> Storage:
    storage = current_app.extensions.get("sheber.storage")
    if storage is None:
        storage = LocalStorage(current_app.config["UPLOAD_FOLDER"])
        current_app.extensions["sheber.storage"] = storage
    return storage
