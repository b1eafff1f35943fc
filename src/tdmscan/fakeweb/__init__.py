"""The fake web: a loopback HTTP server answering for thousands of virtual origins.

Tests and benchmarks never touch the internet; they point clients at this server as an HTTP
proxy (``HTTP_PROXY=http://127.0.0.1:PORT``) or send ``Host``-header requests to it.

    robots = Resp(body="User-agent: *\\nDisallow: /\\n")
    with FakeWeb([Site("a.test", {"/robots.txt": robots})]) as fw:
        httpx.get(fw.url("a.test", "/robots.txt"), proxy=fw.proxy_url)
        assert fw.hits("a.test", "/robots.txt") == 1
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .bench import PROFILES, BenchGenerator, bench_generator
from .server import ADMIN_HOST, FakeWeb, SpawnedFakeWeb
from .spec import (
    Generator,
    Resp,
    Site,
    dump_sites,
    gzip_bomb,
    html_as_robots,
    invalid_utf8,
    load_sites,
    normalize_host,
    redirect,
    redirect_chain,
)

__all__ = [
    "ADMIN_HOST",
    "PROFILES",
    "BenchGenerator",
    "FakeWeb",
    "Generator",
    "Resp",
    "Site",
    "SpawnedFakeWeb",
    "bench_generator",
    "demo_manifest_path",
    "demo_sites",
    "demo_sites_path",
    "dump_sites",
    "gzip_bomb",
    "html_as_robots",
    "invalid_utf8",
    "load_sites",
    "normalize_host",
    "redirect",
    "redirect_chain",
]


def demo_sites_path() -> Path:
    """The bundled sample web used by ``tdmscan demo``."""
    return Path(str(resources.files(__package__).joinpath("demo_sites.json")))


def demo_manifest_path() -> Path:
    """URLs across the demo sites, one per line, including two invalid lines."""
    return Path(str(resources.files(__package__).joinpath("demo_manifest.txt")))


def demo_sites() -> list[Site]:
    return load_sites(demo_sites_path())
