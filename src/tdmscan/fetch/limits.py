"""Per-request limits shared by every fetcher: deadlines, byte caps, redirects, concurrency."""

from __future__ import annotations

from dataclasses import dataclass

from .._version import __version__

DEFAULT_USER_AGENT = f"tdmscan/{__version__} (+https://github.com/tdmscan/tdmscan)"

KiB = 1024
MiB = 1024 * KiB

#: RFC 9309 section 2.5: a parsing limit MUST be at least 500 kibibytes.
ROBOTS_MIN_BYTES = 500 * KiB


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps applied to every request; a fetch never hangs and never buffers an unbounded body.

    ``total_timeout`` covers one whole ``get`` (connect, every redirect hop and the body) once
    the request holds its concurrency slots; waiting for a slot is not counted, so a busy
    scan does not turn queueing into timeouts.
    """

    total_timeout: float = 15.0
    connect_timeout: float = 5.0
    robots_max_bytes: int = 1 * MiB
    file_max_bytes: int = 1 * MiB
    head_max_bytes: int = 512 * KiB
    max_redirects: int = 5
    global_concurrency: int = 100
    per_origin_concurrency: int = 2
    user_agent: str = DEFAULT_USER_AGENT
    #: Upper bound on an honoured Crawl-delay (deep mode page fetches), in seconds.
    max_crawl_delay: float = 10.0
    #: How long an idle connection is kept for reuse. An origin's three files are fetched
    #: together and then not again for a TTL, so a long keep-alive only parks sockets: at
    #: 1,000 new origins/s a 15 s keep-alive holds ~30,000 idle descriptors, past a common
    #: ``ulimit -n`` (seen here: EMFILE under a 20,000 limit at 20,000 origins, C=500).
    keepalive: float = 2.0

    def __post_init__(self) -> None:
        if self.robots_max_bytes < ROBOTS_MIN_BYTES:
            raise ValueError(
                f"robots_max_bytes must be at least {ROBOTS_MIN_BYTES} (RFC 9309 section 2.5)"
            )
        if self.keepalive < 0:
            raise ValueError("keepalive must not be negative")
        for name in ("total_timeout", "connect_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        for name in ("file_max_bytes", "head_max_bytes", "global_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 1 <= self.per_origin_concurrency <= self.global_concurrency:
            raise ValueError("per_origin_concurrency must be between 1 and global_concurrency")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must not be negative")
        if self.max_crawl_delay < 0:
            raise ValueError("max_crawl_delay must not be negative")

    @staticmethod
    def user_agent_for(token: str, contact_url: str) -> str:
        """A User-Agent naming the crawler's own product token and a contact URL."""
        return f"{token}/{__version__} (+{contact_url})"
