"""Spawning ``ai.txt`` (spawning.ai): robots.txt syntax, read leniently.

Spawning's generator writes extension globs without a leading slash (``Disallow: *.jpg``)
and plain folders such as ``images/``; both are read relative to the root. Group selection,
longest match and the allow-wins tie are the RFC 9309 engine of :mod:`.robots`, so ai.txt
and robots.txt can never disagree about what a pattern means.

Many unrelated files are also served as ``/ai.txt`` (Markdown "AI context" notes, SPA
fallbacks answering 200 with HTML). Those are reported as not recognised rather than as an
allow-all file: absence of a signal is not an allow.
"""

from __future__ import annotations

from collections.abc import Callable

from .robots import RobotsMatch, RobotsTxt

__all__ = ["AiTxt", "parse_ai_txt"]


class AiTxt:
    """A parsed ai.txt. ``recognised`` is False when no ai.txt directive parsed at all."""

    __slots__ = ("_engine", "problems", "recognised", "sha256")

    sha256: str
    recognised: bool
    problems: tuple[str, ...]

    def __init__(self, data: bytes | str | None = None) -> None:
        engine = RobotsTxt(data, _lenient_slash=True)
        self._engine = engine
        self.sha256 = engine.sha256
        self.recognised = engine.recognised
        problems = engine.problems
        if not engine.recognised and "unrecognised-format" not in problems:
            problems = (*problems, "unrecognised-format")
        self.problems = problems

    def __repr__(self) -> str:
        return f"AiTxt(sha256={self.sha256[:12]}..., recognised={self.recognised})"

    def match(self, agent: str, path_query: str) -> RobotsMatch:
        """Allow/Disallow for ``agent`` on a normalised path plus query.

        An unrecognised file has no rules, so this answers allowed with no rule; callers
        must check ``recognised`` before reading that as permission.
        """
        return self._engine.match(agent, path_query)

    def matcher(self, agent: str) -> Callable[[str], RobotsMatch]:
        """:meth:`match` for one agent over many paths (see ``RobotsTxt.matcher``)."""
        return self._engine.matcher(agent)

    @property
    def size(self) -> int:
        return self._engine.size

    @property
    def truncated(self) -> bool:
        return self._engine.truncated

    @property
    def named_agents(self) -> frozenset[str]:
        return self._engine.named_agents


def parse_ai_txt(data: bytes | str | None) -> AiTxt:
    """Parse an ai.txt body. Never raises."""
    try:
        return AiTxt(data)
    except Exception as exc:  # pragma: no cover - defensive: the parser must not raise
        fallback = AiTxt(None)
        fallback.problems = (f"parser error: {type(exc).__name__}", "unrecognised-format")
        return fallback
