"""Generated origins for benchmarks: ``s<N>.bench.test`` without a 20,000-entry description.

Each host gets a deterministic profile from its number, so a benchmark can check its own
results against :meth:`BenchGenerator.expected` instead of trusting its throughput figure.
"""

from __future__ import annotations

import json

from .spec import Resp

__all__ = ["PROFILES", "BenchGenerator", "bench_generator"]

_ROBOTS_ALLOW = (
    Resp(body="User-agent: *\nDisallow: /private/\n"),
    Resp(body="User-agent: *\nAllow: /\n\nUser-agent: BadBot\nDisallow: /\n"),
    Resp(
        body="# hello crawlers\nUser-agent: *\nDisallow: /cgi-bin/\nDisallow: /search?\n"
        "Crawl-delay: 1\n"
    ),
)
_ROBOTS_GPTBOT = (
    Resp(body="User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"),
    Resp(
        body="User-agent: CCBot\nUser-agent: GPTBot\nDisallow: /\n\n"
        "User-agent: *\nDisallow: /private/\n"
    ),
)
_ROBOTS_SIGNAL = (Resp(body="User-agent: *\nContent-Signal: search=yes, ai-train=no\nAllow: /\n"),)
_ROBOTS_AIPREF = (Resp(body="User-agent: *\nAllow: /\nContent-Usage: train-ai=n\n"),)
_ROBOTS_503 = (Resp(503, body="service unavailable\n", headers=[("Retry-After", "3600")]),)
_NOT_FOUND = Resp(404, body="not found\n")
_TDMREP_RESERVED = Resp(
    body=json.dumps(
        [{"location": "/", "tdm-reservation": 1, "tdm-policy": "http://policy.bench.test/tdm.json"}]
    ),
    content_type="application/json",
)
_TDMREP_OPEN = Resp(
    body=json.dumps([{"location": "/", "tdm-reservation": 0}]), content_type="application/json"
)
_AI_TXT_BLOCK = Resp(body="# Spawning AI\nUser-agent: *\nDisallow: *\nDisallow: /\n")
_PAGE = Resp(
    body=(
        '<!doctype html><html><head><meta charset="utf-8"><title>Bench page</title></head>'
        "<body><h1>Bench page</h1><p>Nothing to see.</p></body></html>\n"
    ),
    content_type="text/html; charset=utf-8",
)

# profile -> (percent of hosts, expected verdict for GPTBot on a page outside /private/)
PROFILES: dict[str, tuple[int, str]] = {
    "allow": (63, "allowed"),
    "no-robots": (10, "allowed"),
    "robots-gptbot": (10, "reserved"),
    "tdmrep": (5, "reserved"),
    "ai-txt": (4, "reserved"),
    "content-signal": (3, "reserved"),
    "aipref": (3, "reserved"),
    "robots-503": (2, "unknown"),
}
_BUCKETS: list[str] = [name for name, (pct, _) in PROFILES.items() for _ in range(pct)]
assert len(_BUCKETS) == 100


class BenchGenerator:
    """Callable ``(host, path) -> Resp | None`` for ``s<N>.<domain>``.

    Returned responses are shared instances, so the server encodes each variant once.
    """

    def __init__(self, n_hosts: int | None = None, *, domain: str = "bench.test", seed: int = 0):
        self.n_hosts = n_hosts
        self.domain = domain.lower()
        self.seed = seed
        self._suffix = "." + self.domain

    def host(self, i: int) -> str:
        return f"s{i}{self._suffix}"

    def hosts(self) -> list[str]:
        if self.n_hosts is None:
            raise ValueError("n_hosts is unbounded")
        return [self.host(i) for i in range(self.n_hosts)]

    def _index(self, host: str) -> int | None:
        if not host.endswith(self._suffix) or not host.startswith("s"):
            return None
        digits = host[1 : -len(self._suffix)]
        if not digits.isdigit():
            return None
        i = int(digits)
        if self.n_hosts is not None and i >= self.n_hosts:
            return None
        return i

    def _mix(self, i: int) -> int:
        # A fixed multiplicative hash: neighbours get unrelated profiles, runs are repeatable.
        return ((i + self.seed * 7919) * 2654435761) & 0xFFFFFFFF

    def profile(self, host: str) -> str | None:
        i = self._index(host)
        if i is None:
            return None
        return _BUCKETS[self._mix(i) % 100]

    def expected(self, host: str) -> str | None:
        """Expected verdict for GPTBot (conservative mode) on a page such as ``/index.html``."""
        p = self.profile(host)
        return None if p is None else PROFILES[p][1]

    def __call__(self, host: str, path: str) -> Resp | None:
        i = self._index(host)
        if i is None:
            return None
        h = self._mix(i)
        profile = _BUCKETS[h % 100]
        variant = h >> 8
        if path == "/robots.txt":
            if profile == "no-robots":
                return _NOT_FOUND
            if profile == "robots-gptbot":
                return _ROBOTS_GPTBOT[variant % len(_ROBOTS_GPTBOT)]
            if profile == "content-signal":
                return _ROBOTS_SIGNAL[0]
            if profile == "aipref":
                return _ROBOTS_AIPREF[0]
            if profile == "robots-503":
                return _ROBOTS_503[0]
            return _ROBOTS_ALLOW[variant % len(_ROBOTS_ALLOW)]
        if path == "/.well-known/tdmrep.json":
            if profile == "tdmrep":
                return _TDMREP_RESERVED
            # A few allowing hosts publish an explicit "not reserved" file.
            return _TDMREP_OPEN if profile == "allow" and variant % 7 == 0 else _NOT_FOUND
        if path == "/ai.txt":
            return _AI_TXT_BLOCK if profile == "ai-txt" else _NOT_FOUND
        return _PAGE


def bench_generator(
    n_hosts: int | None = None, *, domain: str = "bench.test", seed: int = 0
) -> BenchGenerator:
    return BenchGenerator(n_hosts, domain=domain, seed=seed)
