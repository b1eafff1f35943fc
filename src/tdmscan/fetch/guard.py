"""Address guard and proxy selection.

The guard looks at the addresses a connection is actually made to (after DNS), not at the
host name, so a name that resolves to a public address at check time and a private one at
connect time (DNS rebinding) is still refused. When an environment proxy applies to a URL,
the proxy resolves the target, so the target is not checked here.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import urllib.request
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

#: Set by a fetcher around one hop: True while a proxy carries the request, so the resolver
#: leaves the proxy's own host name alone.
PROXIED: contextvars.ContextVar[bool] = contextvars.ContextVar("tdmscan_proxied", default=False)


class AddressRefused(OSError):
    """Every address of the host is private, loopback, link-local, multicast or reserved."""


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # Addresses that route to an IPv4 destination: check that destination instead.
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public_address(ip: IPAddress | str) -> bool:
    """True for a globally routable unicast address (v4, v6, v4-mapped/NAT64/6to4 unwrapped)."""
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None:
            # The packet ends up at the embedded IPv4 address; judge that one. (ipaddress
            # calls the whole ::ffff:0:0/96 block private, which would refuse public hosts.)
            return is_public_address(inner)
        if ip.scope_id:
            return False
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def ip_literal(host: str | None) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets allowed), else None."""
    if not host:
        return None
    host = host.strip("[]").split("%", 1)[0]
    # A v4 literal ends in a digit and a v6 one has a colon: anything else is a name, so the
    # (exception-raising, comparatively slow) parse is skipped for the common case.
    if ":" not in host and not host[-1:].isdigit():
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def env_proxies() -> dict[str, str]:
    """The proxy variables as urllib reads them (lower case wins over upper case)."""
    return urllib.request.getproxies_environment()


def proxy_for(url: str, proxies: dict[str, str] | None = None) -> str | None:
    """The proxy the standard environment variables select for ``url``, or None.

    ``http_proxy``/``https_proxy``/``all_proxy`` and ``no_proxy``, as urllib and httpx read
    them. ``proxies`` is a snapshot from :func:`env_proxies`; fetchers take one when they are
    created (as httpx and aiohttp sessions do), because scanning the whole environment on every
    request costs more than the request's own bookkeeping.
    """
    if proxies is None:
        proxies = env_proxies()
    if not proxies:
        return None
    return proxy_for_split(urlsplit(url), proxies)


def proxy_for_split(parts: SplitResult, proxies: dict[str, str]) -> str | None:
    """:func:`proxy_for` of an already split URL (fetchers split each hop's URL once)."""
    if not proxies:
        return None
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    if proxies.get("no") and urllib.request.proxy_bypass_environment(netloc, proxies):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    return proxy


def filter_addresses(host: str, addresses: list[str]) -> list[str]:
    """The public addresses among ``addresses``; AddressRefused when none is left."""
    allowed = [a for a in addresses if is_public_address(a)]
    if not allowed:
        raise AddressRefused(f"{host} resolves only to non-public addresses: {addresses[:4]}")
    return allowed


def make_guarded_resolver(inner: Any, allow_private: bool) -> Any:
    """An aiohttp resolver that drops non-public results of ``inner``.

    Built lazily so importing this module does not import aiohttp.
    """
    from aiohttp.abc import AbstractResolver

    class GuardedResolver(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[Any]:
            results = await inner.resolve(host, port, family)
            if allow_private or PROXIED.get():
                return results
            allowed = set(filter_addresses(host, [r["host"] for r in results]))
            return [r for r in results if r["host"] in allowed]

        async def close(self) -> None:
            await inner.close()

    return GuardedResolver()
