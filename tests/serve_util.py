"""Running ``tdmscan serve`` as a real process for the tests (not a test module)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

SRC = str(Path(__file__).resolve().parents[1] / "src")
_LISTENING = re.compile(r"listening on (http://\S+)")


class Server:
    """``python -m tdmscan serve`` in a child process, routed through a fake web when given.

    The child's HTTP goes through ``proxy`` (the fake web) the way the demo routes its own:
    the proxy resolves the fake hosts, so the scanner's address guard stays on.
    """

    def __init__(
        self,
        ledger: Path,
        *args: str,
        proxy: str | None = None,
        flush_seconds: float = 0.5,
        env: dict[str, str] | None = None,
    ) -> None:
        self.ledger = ledger
        self.args = args
        self.proxy = proxy
        self.flush_seconds = flush_seconds
        self.extra_env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.stderr: list[str] = []
        self._reader: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> Server:
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        }
        env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
        if self.proxy:
            env["HTTP_PROXY"] = env["HTTPS_PROXY"] = self.proxy
        env.update(self.extra_env)
        cmd = [
            sys.executable,
            "-m",
            "tdmscan",
            "serve",
            "--ledger",
            str(self.ledger),
            "--port",
            "0",
            "--flush-seconds",
            str(self.flush_seconds),
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        found = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stderr is not None
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = _LISTENING.search(line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server did not start: " + "".join(self.stderr))
        return self

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, trust_env=False, headers=headers, timeout=30, **kw)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit; returns the exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        finally:
            if self._reader is not None:
                self._reader.join(5)
        return rc

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            finally:
                self.kill()
