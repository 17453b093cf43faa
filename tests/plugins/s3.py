"""A real S3 API server for tests: moto's ``moto_server`` on a free local port, started for the
session and stopped after it. It speaks HTTP like AWS, so boto3 talks to it as to a bucket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The endpoint URL of a running moto S3 server."""
    if not MOTO_SERVER.exists():
        pytest.skip("moto_server is missing: pip install 'moto[server]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500:
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"moto_server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    yield endpoint
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh bucket on the moto server: ``(endpoint, bucket, boto3 client)``."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    name = f"sheber-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield s3_server, name, client
    for item in client.list_objects_v2(Bucket=name).get("Contents", []):
        client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)
