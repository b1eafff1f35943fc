"""Address guard and proxy selection.

The guard looks at the addresses a connection is actually made to (after DNS), not at the
host name, so a name that resolves to a public address at check time and a private one at
connect time (DNS rebinding) is still refused.

When an environment proxy applies to a URL the proxy resolves and connects, and a proxy inside
a private network reaches private addresses (a VPC egress proxy reaches the cloud metadata
service). So the fetchers still refuse IP-literal targets outside public space (in every
spelling an HTTP stack accepts: dotted, decimal, octal, hex, IPv6-mapped) and names that
resolve *locally* to such addresses; a name the local resolver does not know is passed to the
proxy, which may know it. What the proxy then resolves it to is beyond our control (see
docs/security.md).

The guard is switched off only explicitly: ``allow_private=True`` for everything, or
:data:`GUARD_EXEMPT_ENV` / ``exempt_hosts`` for named hosts (the fake web sets it for its own).
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import urllib.request
from typing import Any
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Comma-separated hosts the guard leaves alone (``host`` exactly, ``.domain`` for the domain
#: and its subdomains). Set by the fake web and the demo for the hosts they serve themselves.
GUARD_EXEMPT_ENV = "TDMSCAN_GUARD_EXEMPT"

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


def _ipv4_number_forms(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as the WHATWG URL standard's IPv4 parser (and C ``inet_aton``) read it:
    one to four dot-separated numbers, each decimal, ``0x`` hex or ``0``-prefixed octal, the
    last filling the remaining bytes (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``).
    Browsers, curl and most proxies connect to these, so the guard must see them as addresses.
    """
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()  # a trailing dot is allowed
    if not parts or len(parts) > 4:
        return None
    numbers = []
    for part in parts:
        if not part or len(part) > 40:
            return None
        try:
            if part[:2].lower() == "0x":
                n = int(part[2:], 16) if len(part) > 2 else 0
            elif len(part) > 1 and part[0] == "0":
                n = int(part[1:], 8)
            else:
                n = int(part, 10) if part.isdigit() else -1
        except ValueError:
            return None
        if n < 0:
            return None
        numbers.append(n)
    last = numbers.pop()
    if any(n > 255 for n in numbers) or last >= 256 ** (4 - len(numbers)):
        return None
    value = last
    for i, n in enumerate(numbers):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def ip_literal(host: str | None) -> IPAddress | None:
    """The address when ``host`` is an IP literal (brackets allowed, IPv4 in any of the
    numeric spellings of :func:`_ipv4_number_forms`), else None."""
    if not host:
        return None
    host = host.strip("[]").split("%", 1)[0]
    # A v4 literal ends in a digit (or a hex digit after 0x, or a trailing dot) and a v6 one
    # has a colon: anything else is a name, so the parse is skipped for the common case.
    if ":" in host:
        try:
            return ipaddress.ip_address(host)
        except ValueError:
            return None
    last = host.rstrip(".").rsplit(".", 1)[-1].lower()
    if not (last[-1:].isdigit() or last.startswith("0x")):
        return None
    return _ipv4_number_forms(host)


def exempt_hosts(value: str | None = None) -> frozenset[str]:
    """The hosts named by ``value`` (default: the :data:`GUARD_EXEMPT_ENV` variable)."""
    import os

    if value is None:
        value = os.environ.get(GUARD_EXEMPT_ENV, "")
    return frozenset(h.strip().lower().strip("[]") for h in value.split(",") if h.strip())


def is_exempt(host: str | None, exempt: frozenset[str]) -> bool:
    """True when ``host`` is named in ``exempt`` (exactly, or under a ``.domain`` entry)."""
    if not exempt or not host:
        return False
    host = host.lower().rstrip(".")
    if host in exempt:
        return True
    for entry in exempt:
        if entry.startswith(".") and (host.endswith(entry) or host == entry[1:]):
            return True
    return False


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


def make_guarded_resolver(
    inner: Any, allow_private: bool, exempt: frozenset[str] = frozenset()
) -> Any:
    """An aiohttp resolver that drops non-public results of ``inner``.

    Built lazily so importing this module does not import aiohttp.
    """
    from aiohttp.abc import AbstractResolver

    class GuardedResolver(AbstractResolver):
        async def resolve(
            self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
        ) -> list[Any]:
            results = await inner.resolve(host, port, family)
            if allow_private or PROXIED.get() or is_exempt(host, exempt):
                return results
            allowed = set(filter_addresses(host, [r["host"] for r in results]))
            return [r for r in results if r["host"] in allowed]

        async def close(self) -> None:
            await inner.close()

    return GuardedResolver()
