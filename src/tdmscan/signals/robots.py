"""robots.txt (RFC 9309) with the records AI-usage signals live in, kept for evidence.

The parser follows Google's reference implementation wherever RFC 9309 leaves room (line
splitting, BOM handling, accepted typos, whole-token user-agent matching, which lines close a
group), because that is the behaviour site owners test their files against. Deliberate
departures are listed in ``docs/robots-deviations.md``.

protego (the project's baseline dependency) is not used for matching: it prefix-matches
user agents (a ``Google`` group captures ``Google-Extended``), drops the records this module
must keep, ignores the BOM and the parse limit, and evaluates every rule in Python on every
query. Grouping and matching here are our own; protego stays the speed baseline in
``benchmarks/bench_evaluate.py``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .matching import canon, compile_canonical, is_plain, path_pattern, priority, product_token

__all__ = [
    "ROBOTS_PARSE_LIMIT",
    "ExtensionRecord",
    "RobotsMatch",
    "RobotsRule",
    "RobotsTxt",
    "parse_robots",
]

#: RFC 9309 section 2.5: a parsing limit of at least 500 KiB. Content beyond it is ignored.
ROBOTS_PARSE_LIMIT = 500 * 1024

# Google keeps the first kMaxLineLen - 1 bytes of a line (kMaxLineLen = 2083 * 8, the old
# IE URL limit times eight); measured against the reference matcher.
_MAX_LINE_BYTES = 2083 * 8 - 1

# Problems are evidence, not a log: a hostile file of garbage lines must not make every
# parsed object large.
_MAX_PROBLEMS = 200

_BOM = b"\xef\xbb\xbf"
# ASCII whitespace as C's isspace() sees it; str.strip() would also eat U+00A0 and friends,
# which Google keeps as part of the value.
_WS = " \t\n\v\f\r"
_UA_TOKEN_RE = re.compile(r"[A-Za-z_-]+")

_TYPO_DISALLOW = ("dissallow", "dissalow", "disalow", "diasllow", "disallaw")
_KNOWN_RECORDS = frozenset(
    {
        "sitemap",
        "crawl-delay",
        "content-usage",
        "content-signal",
        "license",
        "host",
        "clean-param",
        "noindex",
        "request-rate",
        "visit-time",
    }
)
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<meta", b"<title", b"<script")

_CACHE_LIMIT = 256
_BUCKET_WORK_LIMIT = 200_000
# Below this many rules a plain scan is as fast as a bucket lookup and cheaper to build.
_BUCKET_MIN_RULES = 6


@dataclass(frozen=True, slots=True)
class RobotsRule:
    """One Allow/Disallow line."""

    kind: str  # "allow" | "disallow"
    pattern: str  # as written (comment stripped)
    line: int  # 1-based line number in the file


@dataclass(frozen=True, slots=True)
class RobotsMatch:
    allowed: bool
    rule: RobotsRule | None  # the rule that decided, None when no rule matched
    group_agents: tuple[str, ...]  # tokens of the applied group(s); () when none applied
    group_line: int | None  # first user-agent line of the applied group


@dataclass(frozen=True, slots=True)
class ExtensionRecord:
    """A non Allow/Disallow record kept for evidence."""

    key: str  # lower case: content-usage, content-signal, license, sitemap, crawl-delay, ...
    value: str  # raw value, comment stripped, trimmed (content-usage: the preference only)
    line: int
    group_agents: tuple[str, ...]  # () when outside any group (global)
    path: str | None = None  # content-usage only: the optional path prefix


# --------------------------------------------------------------------------- patterns


@dataclass(frozen=True, slots=True)
class _Entry:
    length: int  # octets of the pattern with non-ASCII percent-encoded (Google's priority)
    allow: bool
    line: int
    canonical: str
    literal: str | None  # the canonical prefix when the pattern has no special character
    rule: RobotsRule
    matches: Callable[[str], bool] | None  # the shared engine's matcher; None for a literal


def _entries_for(rule: RobotsRule, lenient_slash: bool) -> list[_Entry]:
    text = rule.pattern
    if not text:
        # An empty Allow/Disallow matches nothing (RFC 9309 section 2.2.2).
        return []
    if lenient_slash and text[0] not in "/*":
        # ai.txt style "images/": read relative to the root, which is what the author meant.
        text = "/" + text
    allow = rule.kind == "allow"
    out = [_entry(text, allow, rule)]
    if allow:
        # Google treats an allowed ".../index.htm[l]" as also allowing its directory "/.../"
        # (exact); mirrored so verdicts agree with the reference matcher.
        slash = text.rfind("/")
        if slash >= 0 and text.startswith("/index.htm", slash):
            out.append(_entry(text[: slash + 1] + "$", True, rule))
    return out


def _entry(text: str, allow: bool, rule: RobotsRule) -> _Entry:
    # The shared engine's pieces without its cache: a file's rules are compiled once per
    # selection, and most are plain prefixes that need no matcher at all.
    canonical = canon(text)
    if is_plain(canonical):
        return _Entry(priority(text), allow, rule.line, canonical, canonical, rule, None)
    matcher = compile_canonical(canonical)
    return _Entry(priority(text), allow, rule.line, canonical, None, rule, matcher)


# --------------------------------------------------------------------------- parse state


class _Group:
    __slots__ = ("agents", "extensions", "line", "records", "rules")

    def __init__(self, line: int) -> None:
        self.line = line
        self.agents: list[str] = []
        self.rules: list[RobotsRule] = []
        # (key, value, line, path) while parsing; the agents are only known at the end, since
        # a user-agent line may follow a record (as Google's parser does).
        self.records: list[tuple[str, str, int, str | None]] = []
        self.extensions: tuple[ExtensionRecord, ...] = ()


_Step = tuple[int, Any, Any]


def _steps(items: list[tuple[_Entry, RobotsMatch, Any]]) -> list[_Step]:
    """Matching steps in priority order; the first that matches decides.

    Runs of plain prefixes of one priority, kind and canonical length become one dict probe,
    so thousands of literal rules cost a handful of lookups per URL instead of a scan.
    """
    steps: list[_Step] = []
    run_key: tuple[int, bool, int] | None = None
    for e, result, glob in items:
        literal = e.literal
        if literal is None:
            steps.append((2, glob, result))
            run_key = None
            continue
        key = (e.length, e.allow, len(literal))
        if key == run_key:
            kind, width, table = steps[-1]
            if kind == 1:
                table = {width: table}
                width = len(literal)
                steps[-1] = (0, width, table)
            table.setdefault(literal, result)
        else:
            steps.append((1, literal, result))
            run_key = key
    return steps


def _bucket_key(e: _Entry) -> str | None:
    """The first two characters every matching path must start with, if the pattern fixes them."""
    c = e.canonical
    if "%2A" in c or "%24" in c:
        return None
    # A "$" anywhere also matches "%24" in the path: the fixed prefix ends before it.
    fixed = c.split("*", 1)[0].split("$", 1)[0]
    return fixed[:2] if len(fixed) >= 2 else None


class _Selection:
    """Everything one agent needs from the file, compiled once and reused for every URL."""

    __slots__ = (
        "_cu",
        "_records",
        "agents",
        "buckets",
        "default",
        "groups",
        "line",
        "no_match",
    )

    def __init__(self, groups: list[_Group], lenient_slash: bool) -> None:
        self.groups = groups
        agents: list[str] = []
        for g in groups:
            for a in g.agents:
                if a not in agents:
                    agents.append(a)
        self.agents = tuple(agents)
        self.line = groups[0].line if groups else None
        self.no_match = RobotsMatch(True, None, self.agents, self.line)
        entries: list[_Entry] = []
        for g in groups:
            for rule in g.rules:
                entries.extend(_entries_for(rule, lenient_slash))
        # Longest pattern first, allow before disallow on equal length (RFC 9309 section
        # 2.2.2), then file order.
        entries.sort(key=lambda e: (-e.length, not e.allow, e.line))
        # Paths are bucketed by their first two characters ("/w" for "/wp-admin/"): a URL
        # only walks the rules that could match it plus those that fix fewer characters.
        items = []
        keys: set[str] = set()
        n_universal = 0
        bucketing = len(entries) > _BUCKET_MIN_RULES
        for e in entries:
            result = RobotsMatch(e.allow, e.rule, self.agents, self.line)
            glob = None if e.literal is not None else e.matches
            key = _bucket_key(e) if bucketing else None
            if key is None:
                n_universal += 1
            else:
                keys.add(key)
            items.append((key, (e, result, glob)))
        if len(keys) * n_universal > _BUCKET_WORK_LIMIT:
            # A hostile file could make bucketing quadratic; one list is always correct.
            keys = set()
        lists: dict[str | None, list[tuple[_Entry, RobotsMatch, Any]]] = {k: [] for k in keys}
        lists[None] = []
        for key, item in items:
            if key is None or key not in lists:
                for lst in lists.values():
                    lst.append(item)
            else:
                lists[key].append(item)
        self.default = _steps(lists.pop(None))
        self.buckets: dict[str, list[_Step]] = {k: _steps(v) for k, v in lists.items()}
        self._records: dict[str, tuple[ExtensionRecord, ...]] = {}
        self._cu: list[tuple[int, Any, ExtensionRecord]] | None = None

    def match(self, path: str) -> RobotsMatch:
        for kind, a, b in self.buckets.get(path[:2], self.default):
            if kind == 0:
                found = b.get(path[:a])
                if found is not None:
                    return found
            elif kind == 1:
                if path.startswith(a):
                    return b
            elif a(path):
                return b
        return self.no_match


def _html_like(body: bytes) -> bool:
    head = body[:1024].lstrip(b" \t\r\n\f\v").lower()
    if not head.startswith(b"<"):
        return False
    return head.startswith(_HTML_STARTS) or b"<html" in head


def _to_bytes(data: Any) -> tuple[bytes, str | None]:
    if data is None:
        return b"", None
    if isinstance(data, bytes):
        return data, None
    if isinstance(data, str):
        try:
            return data.encode("utf-8", "surrogateescape"), None
        except UnicodeEncodeError:
            return data.encode("utf-8", "surrogatepass"), None
    try:
        return bytes(data), None
    except Exception:
        return b"", f"unsupported input type {type(data).__name__}"


@lru_cache(maxsize=4096)
def _token_of(agent: str) -> str:
    """The caller's product token; the same few agents are asked about for every file."""
    return product_token(agent) if isinstance(agent, str) else ""


def _ua_token(value: str) -> str:
    # Google: "*" alone or followed by whitespace is the global agent ("* foo" too, "*foo"
    # not); anything else is cut at the first character outside [A-Za-z_-].
    if value[:1] == "*":
        return "*" if len(value) == 1 or value[1] in _WS else ""
    m = _UA_TOKEN_RE.match(value)
    return m.group(0).lower() if m else ""


class RobotsTxt:
    """A parsed robots.txt. Immutable after parse; only private caches change."""

    __slots__ = (
        "_by_token",
        "_cache",
        "_global",
        "_groups",
        "_lenient_slash",
        "_shared",
        "has_global_usage",
        "named_agents",
        "problems",
        "recognised",
        "sha256",
        "sitemaps",
        "size",
        "truncated",
    )

    sha256: str
    size: int
    truncated: bool
    problems: tuple[str, ...]
    sitemaps: tuple[str, ...]
    named_agents: frozenset[str]
    recognised: bool

    def __init__(
        self,
        data: bytes | str | None = None,
        *,
        _limit: int = ROBOTS_PARSE_LIMIT,
        _html_check: bool = True,
        _lenient_slash: bool = False,
    ) -> None:
        raw, input_problem = _to_bytes(data)
        self.sha256 = hashlib.sha256(raw).hexdigest()
        self.size = len(raw)
        self._lenient_slash = _lenient_slash
        self._cache: dict[str, _Selection] = {}
        self._shared: dict[tuple[int, ...], _Selection] = {}
        problems: list[str] = []
        if input_problem:
            problems.append(input_problem)
        body = raw
        self.truncated = len(raw) > _limit
        if self.truncated:
            body = raw[:_limit]
            # A rule cut in half would mean something its author never wrote
            # ("Disallow: /private" -> "Disallow: /pr"), so the partial last line goes too.
            if raw[_limit : _limit + 1] not in (b"\n", b"\r"):
                cut = max(body.rfind(b"\n"), body.rfind(b"\r"))
                body = body[: cut + 1] if cut >= 0 else b""
            problems.append(f"truncated at {_limit} bytes")
        # Google skips any prefix of the BOM at the very start (a broken BOM loses only the
        # bytes that matched); a BOM anywhere else stays in, and spoils, its line.
        if body.startswith(_BOM):
            body = body[3:]
            problems.append("bom")
        elif body[:2] == _BOM[:2] or body[:1] == _BOM[:1]:
            n = 2 if body[:2] == _BOM[:2] else 1
            body = body[n:]
            problems.append("broken-bom")
        groups: list[_Group] = []
        global_records: list[ExtensionRecord] = []
        sitemaps: list[str] = []
        recognised = False
        if _html_check and _html_like(body):
            problems.append("html-body")
            lines: list[bytes] = []
        else:
            lines = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")

        def problem(text: str) -> None:
            if len(problems) < _MAX_PROBLEMS:
                problems.append(text)
            elif len(problems) == _MAX_PROBLEMS:
                problems.append("more problems not recorded")

        current: _Group | None = None
        in_rules = False
        for number, bline in enumerate(lines, 1):
            if not bline:
                continue
            if len(bline) > _MAX_LINE_BYTES:
                bline = bline[:_MAX_LINE_BYTES]
                problem(f"line {number}: longer than {_MAX_LINE_BYTES} bytes, cut")
            hash_at = bline.find(b"#")
            if hash_at >= 0:
                bline = bline[:hash_at]
            line = bline.decode("utf-8", "surrogateescape").strip(_WS)
            if not line:
                continue
            colon = line.find(":")
            missing_colon = colon < 0
            if missing_colon:
                # Google accepts "key value" when the line is exactly two words.
                sep = min((i for i in (line.find(" "), line.find("\t")) if i >= 0), default=-1)
                if sep < 0:
                    problem(f"line {number}: unparsable line")
                    continue
                key = line[:sep]
                value = line[sep:].lstrip(_WS)
                if " " in value or "\t" in value:
                    problem(f"line {number}: unparsable line")
                    continue
            else:
                key = line[:colon].strip(_WS)
                value = line[colon + 1 :].strip(_WS)
                if not key:
                    problem(f"line {number}: unparsable line")
                    continue
            lkey = key.lower()
            # Google compares keys by prefix, so "Disallowed:" is a disallow line too.
            if lkey.startswith(("user-agent", "useragent", "user agent")):
                kind = "user-agent"
            elif lkey.startswith("allow"):
                kind = "allow"
            elif lkey.startswith("disallow") or lkey.startswith(_TYPO_DISALLOW):
                kind = "disallow"
            elif lkey.startswith(("sitemap", "site-map")):
                kind = "sitemap"
            else:
                kind = ""
            if kind and lkey != kind:
                problem(f"line {number}: typo {key.lower()!r} accepted")
            if missing_colon and (kind or lkey in _KNOWN_RECORDS):
                problem(f"line {number}: missing colon accepted")

            if kind == "user-agent":
                recognised = True
                if current is None or in_rules:
                    current = _Group(number)
                    groups.append(current)
                    in_rules = False
                token = _ua_token(value)
                if not token:
                    problem(f"line {number}: user-agent {value!r} has no product token")
                elif token not in current.agents:
                    current.agents.append(token)
            elif kind in ("allow", "disallow"):
                recognised = True
                if current is None:
                    problem(f"line {number}: rule outside any group")
                    continue
                in_rules = True
                current.rules.append(RobotsRule(kind, value, number))
            elif kind == "sitemap":
                # Sitemaps are file-wide (sitemaps.org), whatever group they sit in.
                sitemaps.append(value)
                global_records.append(ExtensionRecord("sitemap", value, number, ()))
            else:
                if missing_colon and lkey not in _KNOWN_RECORDS:
                    problem(f"line {number}: unparsable line")
                    continue
                if lkey not in _KNOWN_RECORDS:
                    problem(f"line {number}: unknown directive {lkey!r}")
                path: str | None = None
                if lkey == "content-usage" and value.startswith("/"):
                    cut_at = min(
                        (i for i in (value.find(" "), value.find("\t")) if i >= 0),
                        default=len(value),
                    )
                    path, value = value[:cut_at], value[cut_at:].strip(_WS)
                    if not value:
                        problem(f"line {number}: content-usage path without a preference")
                if current is None:
                    if lkey in ("content-usage", "content-signal"):
                        problem(f"line {number}: {lkey} outside any group")
                    global_records.append(ExtensionRecord(lkey, value, number, (), path))
                else:
                    current.records.append((lkey, value, number, path))

        for g in groups:
            agents = tuple(g.agents)
            g.extensions = tuple(ExtensionRecord(k, v, n, agents, p) for k, v, n, p in g.records)
            g.records = []
        self._groups = groups
        by_token: dict[str, list[_Group]] = {}
        for g in groups:
            for a in g.agents:
                by_token.setdefault(a, []).append(g)
        self._by_token = by_token
        self._global = tuple(global_records)
        self.has_global_usage = any(r.key == "content-usage" for r in global_records)
        self.sitemaps = tuple(sitemaps)
        self.named_agents = frozenset(a for g in groups for a in g.agents if a != "*")
        self.recognised = recognised
        self.problems = tuple(problems)

    def __repr__(self) -> str:
        return (
            f"RobotsTxt(sha256={self.sha256[:12]}..., size={self.size}, groups={len(self._groups)},"
            f" truncated={self.truncated}, problems={len(self.problems)})"
        )

    # ------------------------------------------------------------------ selection

    def _select(self, agent: str) -> _Selection:
        sel = self._cache.get(agent)
        if sel is not None:
            return sel
        token = _token_of(agent)
        chosen: list[_Group] = []
        if token and token != "*":
            chosen = self._by_token.get(token, [])
        if not chosen:
            # RFC 9309 section 2.2.1: no group names us, so every "*" group applies, merged.
            chosen = self._by_token.get("*", [])
        # Every agent the file does not name lands on the same "*" groups: compile them once.
        key = tuple(map(id, chosen))
        sel = self._shared.get(key)
        if sel is None:
            sel = _Selection(chosen, self._lenient_slash)
            self._shared[key] = sel
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[agent] = sel
        return sel

    def match(self, agent: str, path_query: str) -> RobotsMatch:
        """Allow/Disallow decision for ``agent`` on a normalised path plus query."""
        sel = self._cache.get(agent) or self._select(agent)
        if not isinstance(path_query, str) or not path_query:
            path_query = "/"
        elif (
            path_query.startswith("/robots.txt")
            and (len(path_query) == 11 or path_query[11] == "?")
            and not self._lenient_slash
        ):
            # RFC 9309 section 2.2.2: the robots.txt URI is implicitly allowed.
            return sel.no_match
        # Idempotent on already normalised input, and one regex scan when nothing to do.
        return sel.match(canon(path_query))

    def matcher(self, agent: str) -> Callable[[str], RobotsMatch]:
        """:meth:`match` for one agent, with the group selection resolved once: for callers
        that ask about many paths (an audit's URLs of one origin)."""
        sel = self._cache.get(agent) or self._select(agent)
        lenient = self._lenient_slash
        no_match = sel.no_match
        select = sel.match

        def match(path_query: str) -> RobotsMatch:
            if not isinstance(path_query, str) or not path_query:
                path_query = "/"
            elif (
                path_query.startswith("/robots.txt")
                and (len(path_query) == 11 or path_query[11] == "?")
                and not lenient
            ):
                return no_match
            return select(canon(path_query))

        return match

    def group_records(self, agent: str, key: str) -> tuple[ExtensionRecord, ...]:
        """Records of ``key`` in the group(s) RFC 9309 selects for ``agent``."""
        sel = self._cache.get(agent) or self._select(agent)
        key = key.lower()
        found = sel._records.get(key)
        if found is None:
            merged = [r for g in sel.groups for r in g.extensions if r.key == key]
            # Merged groups may interleave in the file: report records in file order.
            merged.sort(key=lambda r: r.line)
            found = sel._records[key] = tuple(merged)
        return found

    def global_records(self, key: str) -> tuple[ExtensionRecord, ...]:
        """Records of ``key`` outside any group (sitemaps are always here)."""
        key = key.lower()
        return tuple(r for r in self._global if r.key == key)

    def content_usage(self, agent: str, path_query: str) -> tuple[ExtensionRecord, ...]:
        """aipref-attach section 3.3: the Content-Usage rule(s) that apply to this path.

        Empty when the path is disallowed (disallowed paths carry no preference). Otherwise the
        selected group's rules with the longest matching path (no path counts as length 0);
        several when tied, for the caller to combine most-restrictively.
        """
        if not self.match(agent, path_query).allowed:
            return ()
        sel = self._cache.get(agent) or self._select(agent)
        if sel._cu is None:
            compiled: list[tuple[int, Any, ExtensionRecord]] = []
            for rec in self.group_records(agent, "content-usage"):
                if rec.path is None:
                    compiled.append((0, None, rec))
                else:
                    pat = path_pattern(rec.path, root_relative=False)
                    compiled.append((pat.length, pat.matches, rec))
            sel._cu = compiled
        if not sel._cu:
            return ()
        path = canon(path_query) if isinstance(path_query, str) and path_query else "/"
        best = -1
        out: list[ExtensionRecord] = []
        for length, rx, rec in sel._cu:
            if length < best or (rx is not None and not rx(path)):
                continue
            if length > best:
                best, out = length, [rec]
            else:
                out.append(rec)
        return tuple(out)

    def global_content_usage(self, path_query: str) -> tuple[ExtensionRecord, ...]:
        """Content-Usage lines written before the first User-agent (outside any group) that
        apply to this path: the longest matching path wins, as inside a group. RFC 9309 puts
        them in no group; callers treat them as inferred, origin-wide statements."""
        recs = [r for r in self._global if r.key == "content-usage"]
        if not recs:
            return ()
        path = canon(path_query) if isinstance(path_query, str) and path_query else "/"
        best = -1
        out: list[ExtensionRecord] = []
        for rec in recs:
            if rec.path is None:
                length = 0
            else:
                pat = path_pattern(rec.path, root_relative=False)
                if not pat.matches(path):
                    continue
                length = pat.length
            if length > best:
                best, out = length, [rec]
            elif length == best:
                out.append(rec)
        return tuple(out)

    def licenses(self, agent: str) -> tuple[ExtensionRecord, ...]:
        """RSL ``License`` lines: the selected group's when it has any, else the global ones."""
        return self.group_records(agent, "license") or self.global_records("license")

    def crawl_delay(self, agent: str) -> float | None:
        """The first usable Crawl-delay of the selected group(s), in seconds."""
        for rec in self.group_records(agent, "crawl-delay"):
            try:
                delay = float(rec.value)
            except ValueError:
                continue
            if delay >= 0 and delay != float("inf"):
                return delay
        return None


def parse_robots(data: bytes | str | None) -> RobotsTxt:
    """Parse a robots.txt body. Never raises: malformed input becomes recorded problems."""
    try:
        return RobotsTxt(data)
    except Exception as exc:  # pragma: no cover - defensive: the parser must not raise
        fallback = RobotsTxt(None)
        raw, _ = _to_bytes(data)
        fallback.sha256 = hashlib.sha256(raw).hexdigest()
        fallback.size = len(raw)
        fallback.problems = (f"parser error: {type(exc).__name__}",)
        return fallback
