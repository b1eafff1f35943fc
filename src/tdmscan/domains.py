"""Registrable domains (offline PSL) and the stable shard function.

The shard function must agree with DuckDB's ``md5_number(domain) % n`` so that a shard can be
selected in SQL (``WHERE md5_number(registrable_domain) % 16 = 3``) exactly as the writer and
``tdmscan audit --shard K/N`` assign it. DuckDB's ``hash()`` is not stable across versions;
md5 is.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import ipaddress
import os
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

__all__ = ["PSL_VERSION", "registrable_domain", "shard_of"]


def _psl_version() -> str:
    pkg = importlib.metadata.version("publicsuffixlist")
    # The bundled list carries its own date; the package version only encodes it indirectly.
    stamp = ""
    try:
        import publicsuffixlist

        dat = os.path.join(os.path.dirname(publicsuffixlist.__file__), "public_suffix_list.dat")
        with open(dat, encoding="utf-8") as fh:
            for _, line in zip(range(40), fh, strict=False):
                if "VERSION:" in line:
                    stamp = line.split("VERSION:", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"publicsuffixlist {pkg}" + (f" (PSL {stamp})" if stamp else "")


#: Recorded in every ``runs`` row so a registrable domain can be recomputed with the same list.
PSL_VERSION: str = _psl_version()

_psl_icann: PublicSuffixList | None = None
_psl_all: PublicSuffixList | None = None


def _psl(private: bool) -> PublicSuffixList:
    global _psl_icann, _psl_all
    if private:
        if _psl_all is None:
            _psl_all = PublicSuffixList(only_icann=False)
        return _psl_all
    if _psl_icann is None:
        _psl_icann = PublicSuffixList(only_icann=True)
    return _psl_icann


def _is_ip(host: str) -> bool:
    # ip_address() raising ValueError is slow; names almost never end in a digit.
    if not (host[-1].isdigit() or host[0] == "[" or ":" in host):
        return False
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(h)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1 << 18)
def registrable_domain(host: str | None, private: bool = False) -> str | None:
    """eTLD+1 of ``host`` from the bundled Public Suffix List (ICANN section by default).

    ICANN-only matches Common Crawl's ``url_host_registered_domain`` (``blogspot.com`` for
    ``x.blogspot.com``); ``private=True`` also honours private suffixes. A host that has no
    registrable part (an IP literal, ``localhost``, a bare public suffix) is its own domain, so
    every valid URL still lands in exactly one shard. ``None`` or ``""`` gives ``None``.
    """
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    if not host:
        return None
    if _is_ip(host):
        return host
    dom = _psl(private).privatesuffix(host)
    return dom if dom else host


def shard_of(domain: str | None, n: int) -> int:
    """``int.from_bytes(md5(domain).digest(), "little") % n`` == DuckDB ``md5_number(domain) % n``.

    ``None`` (invalid URLs) is hashed as the empty string so those rows still have a shard.
    """
    if n <= 0:
        raise ValueError("shard count must be positive")
    digest = hashlib.md5((domain or "").encode("utf-8")).digest()
    return int.from_bytes(digest, "little") % n
