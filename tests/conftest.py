"""Shared fixtures. The fake web (``tdmscan.fakeweb``) is the only network tests may use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tdmscan.fakeweb import FakeWeb, demo_sites_path

_PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy")
_CLEARED_VARS = ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")


@pytest.fixture
def fakeweb() -> Iterator[Callable[..., FakeWeb]]:
    """Factory: ``fakeweb(sites, generator=None, **kw)`` -> a running FakeWeb, stopped at teardown.

    ``sites`` is anything :class:`FakeWeb` accepts (list of Site, JSON dict, JSON path).
    """
    started: list[FakeWeb] = []

    def start(sites: Any = None, generator: Any = None, **kw: Any) -> FakeWeb:
        fw = FakeWeb(sites, generator, **kw).start()
        started.append(fw)
        return fw

    yield start
    for fw in started:
        fw.stop()


@pytest.fixture
def fakeweb_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[Any], str]:
    """``fakeweb_env(fw)`` routes every env-honouring client through ``fw``.

    HTTPS_PROXY points there too: the fake web refuses CONNECT at once, so a stray https URL
    fails fast instead of reaching the internet. NO_PROXY is cleared because a ``localhost``
    or ``*`` entry would send requests around the proxy.
    """

    def apply(fw: Any) -> str:
        url: str = fw.proxy_url
        for name in _PROXY_VARS:
            monkeypatch.setenv(name, url)
        for name in _CLEARED_VARS:
            monkeypatch.delenv(name, raising=False)
        # The guard holds behind proxies; the fake web's own hosts are exempted by name.
        monkeypatch.setenv("TDMSCAN_GUARD_EXEMPT", fw.guard_exempt)
        return url

    return apply


@pytest.fixture(scope="session")
def demo_web() -> Iterator[FakeWeb]:
    """The bundled demo site set, served once per session. Don't rely on its hit counts."""
    with FakeWeb(demo_sites_path()) as fw:
        yield fw
