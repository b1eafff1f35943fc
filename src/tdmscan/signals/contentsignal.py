"""Cloudflare Content Signals: ``Content-Signal: search=yes, ai-train=no``.

The policy text has no formal grammar, so the parser is lenient: case and separator variants
(``ai-train=No``, ``ai_train=no``, ``;`` between pairs) are mapped, and every mapping is
flagged ``lenient`` with a problem entry so strict mode can refuse to decide on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: Keys whose value is yes/no. ``use`` (2026) takes other values and goes to ``extras``.
YES_NO_KEYS: frozenset[str] = frozenset({"search", "ai-input", "ai-train"})

_KEY_OK_RE = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True, slots=True)
class ContentSignal:
    raw: str
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    lenient: bool = False
    problems: tuple[str, ...] = ()
    #: Keys with non yes/no values, e.g. ``use=reference``, lower-cased.
    extras: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, key: str) -> str | None:
        """``"yes"``, ``"no"`` or None (the operator neither grants nor restricts)."""
        return self.values.get(key)


def parse_content_signal(value: str) -> ContentSignal:
    """Parse one Content-Signal value (robots.txt line, header or meta content)."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):
        return ContentSignal(raw=repr(value), problems=("not a string",))
    raw = value
    text = value.split("#", 1)[0]  # a trailing comment when handed a raw robots.txt value
    values: dict[str, str] = {}
    extras: dict[str, str] = {}
    problems: list[str] = []
    lenient = False
    if ";" in text:
        lenient = True
        problems.append("';' used as separator")
    for part in re.split(r"[,;]", text):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            problems.append(f"{part!r}: no '=' -> ignored")
            continue
        k_raw, v_raw = part.split("=", 1)
        k_raw, v_raw = k_raw.strip(), v_raw.strip().strip('"').strip()
        key = k_raw.lower().replace("_", "-")
        if key != k_raw:
            lenient = True
            problems.append(f"key {k_raw!r} read as {key!r}")
        if not _KEY_OK_RE.fullmatch(key):
            problems.append(f"{part!r}: unusable key -> ignored")
            continue
        val = v_raw.lower()
        if key in YES_NO_KEYS:
            if val not in ("yes", "no"):
                problems.append(f"{k_raw}={v_raw}: value is not yes/no -> ignored")
                continue
            if val != v_raw:
                lenient = True
                problems.append(f"{k_raw}={v_raw}: value read as {val!r}")
            prev = values.get(key)
            if prev is not None and prev != val:
                # No rule in the policy text; the reservation is kept (most restrictive).
                problems.append(f"{key}: conflicting values, 'no' kept")
                val = "no"
            values[key] = val
        else:
            if key not in extras and key != "use":
                problems.append(f"unknown key {key!r} recorded")
            extras[key] = val
    return ContentSignal(
        raw=raw,
        values=MappingProxyType(values),
        lenient=lenient,
        problems=tuple(problems),
        extras=MappingProxyType(extras),
    )
