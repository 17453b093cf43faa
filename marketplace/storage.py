"""Where uploaded files live. Keys are content hashes, so a file never changes under its key
(which lets ``/media/<key>`` and a CDN cache it forever) and storing the same bytes twice stores
once.

Two areas: *public* files (what pages show: processed image variants) and *private* ones (an
upload as it arrived, with its camera and GPS tags, kept only until a worker has made the public
variants). ``/media`` serves only the public area.

``LocalStorage`` keeps files in ``UPLOAD_FOLDER`` (the default); ``S3Storage`` keeps them in an
S3-compatible bucket (``STORAGE_URL=s3://bucket/prefix``). ``get_storage`` returns the configured
one. ``url(key)`` is where a browser fetches a public file: ``None`` for the local folder (the
app serves ``/media/<key>``), the CDN address under ``MEDIA_BASE_URL``, or a presigned URL of a
private bucket.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from flask import current_app

from marketplace.errors import ExternalServiceError, UpstreamError

KEY_PATTERN = re.compile(r"[0-9a-f]{64}\.(?:jpg|png|webp)")
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
IMMUTABLE = "public, max-age=31536000, immutable"


class StorageUnavailable(ExternalServiceError):
    """The storage service did not answer or failed (a worker retries)."""


def content_key(data: bytes, extension: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()}.{extension}"


def valid_key(key: str) -> bool:
    return bool(KEY_PATTERN.fullmatch(key))


def _checked(key: str) -> str:
    if not valid_key(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    def save(self, data: bytes, extension: str, *, private: bool = False) -> str: ...

    def read(self, key: str, *, private: bool = False) -> bytes | None: ...

    def exists(self, key: str, *, private: bool = False) -> bool: ...

    def delete(self, key: str, *, private: bool = False) -> None: ...

    def url(self, key: str) -> str | None: ...


class LocalStorage:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _file(self, key: str, private: bool = False) -> Path:
        _checked(key)
        return self.root / ("private" if private else "") / key[:2] / key

    def save(self, data: bytes, extension: str, *, private: bool = False) -> str:
        key = content_key(data, extension)
        target = self._file(key, private)
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

    def read(self, key: str, *, private: bool = False) -> bytes | None:
        path = self.path(key, private=private)
        return path.read_bytes() if path is not None else None

    def exists(self, key: str, *, private: bool = False) -> bool:
        return valid_key(key) and self._file(key, private).is_file()

    def path(self, key: str, *, private: bool = False) -> Path | None:
        return self._file(key, private) if self.exists(key, private=private) else None

    def delete(self, key: str, *, private: bool = False) -> None:
        if valid_key(key):
            self._file(key, private).unlink(missing_ok=True)

    def url(self, key: str) -> str | None:
        return None  # the app serves /media/<key>


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, Ceph, ...), through boto3 with short timeouts."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key: str | None = None,
                 secret_key: str | None = None, public_base_url: str | None = None,
                 signed_url_seconds: int = 86400, timeout_seconds: int = 20):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.signed_url_seconds = signed_url_seconds
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region or "us-east-1",
            aws_access_key_id=access_key, aws_secret_access_key=secret_key,
            config=Config(connect_timeout=5, read_timeout=timeout_seconds,
                          retries={"max_attempts": 3, "mode": "standard"},
                          signature_version="s3v4", s3={"addressing_style": "path"}))

    def _object(self, key: str, private: bool = False) -> str:
        parts = [self.prefix, "private" if private else "", _checked(key)]
        return "/".join(part for part in parts if part)

    def _call(self, method: str, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(kwargs.get("Key")) from None
            raise StorageUnavailable(f"storage {method} failed: {exc}",
                                     code=UpstreamError.FAILED) from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"storage {method} failed: {exc}",
                                     code=UpstreamError.FAILED) from exc

    def save(self, data: bytes, extension: str, *, private: bool = False) -> str:
        key = content_key(data, extension)
        extra = {} if private else {"CacheControl": IMMUTABLE}
        self._call("put_object", Key=self._object(key, private), Body=data,
                   ContentType=CONTENT_TYPES[extension], **extra)
        return key

    def read(self, key: str, *, private: bool = False) -> bytes | None:
        if not valid_key(key):
            return None
        try:
            response = self._call("get_object", Key=self._object(key, private))
        except FileNotFoundError:
            return None
        with response["Body"] as body:
            return body.read()

    def exists(self, key: str, *, private: bool = False) -> bool:
        if not valid_key(key):
            return False
        try:
            self._call("head_object", Key=self._object(key, private))
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str, *, private: bool = False) -> None:
        if valid_key(key):
            self._call("delete_object", Key=self._object(key, private))

    def url(self, key: str) -> str | None:
        if self.public_base_url:
            return f"{self.public_base_url}/{self._object(key)}"
        # A private bucket: a link signed for a while (the page is rendered again before then).
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._object(key)},
            ExpiresIn=self.signed_url_seconds)


def storage_from_config(config) -> Storage:
    location = config.get("STORAGE_URL")
    if not location:
        return LocalStorage(config["UPLOAD_FOLDER"])
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"STORAGE_URL must be s3://bucket[/prefix], got {location!r}")
    return S3Storage(
        parts.netloc, prefix=parts.path, endpoint_url=config.get("S3_ENDPOINT_URL"),
        region=config.get("AWS_REGION"), access_key=config.get("AWS_ACCESS_KEY_ID"),
        secret_key=config.get("AWS_SECRET_ACCESS_KEY"),
        public_base_url=config.get("MEDIA_BASE_URL"),
        signed_url_seconds=int(config.get("MEDIA_SIGNED_URL_SECONDS") or 86400))


def get_storage() -> Storage:
    storage = current_app.extensions.get("sheber.storage")
    if storage is None:
        storage = storage_from_config(current_app.config)
        current_app.extensions["sheber.storage"] = storage
    return storage


def media_url(key: str) -> str:
    """Where a browser fetches the public file ``key``."""
    return get_storage().url(key) or f"/media/{key}"
