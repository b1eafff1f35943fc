"""What a page's own response says about lawful access (GPAI Code of Practice, measure 1.2).

Sans-I/O and linear-time: every check reads the status, a few headers, the redirect chain and
a bounded prefix of the body. A barrier found here is never read as permission; callers record
it as evidence and never let the URL be ``allowed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..types import Fetched

#: status -> (reason, what it means)
STATUS_BARRIERS: dict[int, tuple[str, str]] = {
    401: ("access:auth-required", "authentication required (RFC 9110 section 15.5.2)"),
    402: ("access:payment-required", "payment required (RFC 9110 section 15.5.3)"),
    403: ("access:forbidden", "access refused (RFC 9110 section 15.5.4)"),
    451: ("access:legal", "unavailable for legal reasons (RFC 7725)"),
}

#: Headers worth keeping with the evidence of a barrier (pay-per-crawl, x402, auth schemes).
_KEPT_HEADERS = (
    "www-authenticate",
    "crawler-price",
    "crawler-error",
    "crawler-charged",
    "x-payment-required",
    "link",
)

# A redirect whose target path names a login or sign-in page (the same test the evidence
# report applies to fetch rows).
_LOGIN_RE = re.compile(
    r"^[a-z][a-z0-9+.-]*://[^/]+/(?:[^?#]*/)?(?:log-?in|sign-?in|signon|sso|auth|account/login)"
    r"(?:[/?#.]|$)",
    re.IGNORECASE,
)
# schema.org paywalled-content markup (JSON-LD or microdata), in the first 512 KiB.
_SCAN_BYTES = 512 * 1024
_FREE_JSONLD_RE = re.compile(rb'"isAccessibleForFree"\s*:\s*"?(false|False|FALSE)\b')
_FREE_MICRODATA_RE = re.compile(
    rb"<meta[^>]{0,200}?itemprop\s*=\s*[\"']?isAccessibleForFree[\"']?[^>]{0,200}?>",
    re.IGNORECASE,
)
_CONTENT_FALSE_RE = re.compile(rb"content\s*=\s*[\"']?false\b", re.IGNORECASE)
_X402_RE = re.compile(rb'"x402Version"\s*:')


@dataclass(frozen=True, slots=True)
class Barrier:
    reason: str  # access:* reason code
    locator: str  # where it was seen: "response status", "redirect", "json-ld", ...
    raw: str  # status line, kept headers, the markup found


def _kept_headers(f: Fetched) -> str:
    out = []
    for name in _KEPT_HEADERS:
        v = f.header(name)
        if v:
            out.append(f"{name}: {v[:200]}")
    return "; ".join(out)


def barriers(f: Fetched) -> list[Barrier]:
    """Access barriers in one page response (empty for an ordinary page)."""
    found: list[Barrier] = []
    status = f.status
    if status in STATUS_BARRIERS:
        reason, meaning = STATUS_BARRIERS[status]
        raw = f"HTTP {status} ({meaning})"
        kept = _kept_headers(f)
        if kept:
            raw += "; " + kept
        if status == 402 and _X402_RE.search(f.body[:_SCAN_BYTES]):
            raw += "; x402 payment requirements in body"
        found.append(Barrier(reason, "response status", raw))
    final = f.final_url or ""
    if f.redirects and final and _LOGIN_RE.match(final):
        found.append(
            Barrier(
                "access:login-required",
                "redirect",
                f"redirected to {final} after {len(f.redirects)} redirect(s)",
            )
        )
    body = f.body[:_SCAN_BYTES]
    if b"isAccessibleForFree" in body:
        m = _FREE_JSONLD_RE.search(body)
        where = "json-ld isAccessibleForFree"
        if m is None:
            for meta in _FREE_MICRODATA_RE.finditer(body):
                if _CONTENT_FALSE_RE.search(meta.group(0)):
                    m = meta
                    where = "microdata isAccessibleForFree"
                    break
        if m is not None:
            found.append(
                Barrier(
                    "access:paywalled",
                    where,
                    m.group(0).decode("utf-8", "replace")[:200],
                )
            )
    return found
