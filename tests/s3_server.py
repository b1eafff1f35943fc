"""An S3-compatible server on loopback for the object-storage tests and benchmarks.

moto's standalone server (``moto[server]``, from PyPI): pure Python, so it installs with the
test extra on any machine CI runs on, and it implements the conditional ``PutObject``
(``If-None-Match: *`` answered with 412) that the ledger's commit protocol relies on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """Start the server, yield the environment a client needs (set in os.environ too)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
    }
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint + "/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the S3-compatible server (moto) did not start") from None
                time.sleep(0.1)
        os.environ.update(env)
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_bucket(name: str) -> None:
    import s3fs

    from tdmscan.ledger.storage import s3_options

    s3fs.S3FileSystem(skip_instance_cache=True, **s3_options()).mkdir(name)
