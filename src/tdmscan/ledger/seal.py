"""RFC 3161 time stamps over the ledger's chain head: "recorded no later than".

The chain head commits to every segment ever written (each chain entry hashes the one before
it), so a time-stamping authority's token over the head proves the whole ledger up to that
entry existed at the token's ``genTime``; a later edit or back-dating breaks either the chain
or the token's message imprint. The message is the head as ASCII text
(``sha256(head)`` is the imprint); the token (the full ``TimeStampResp``, DER) is stored in the
``seals`` table, itself chained. Requests and checks use ``rfc3161-client``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["SealCheck", "SealError", "seal", "verify_seals"]

#: A time-stamp response is a few KiB; anything much larger is not one.
MAX_RESPONSE_BYTES = 256 * 1024
CONTENT_TYPE = "application/timestamp-query"


class SealError(Exception):
    """The TSA could not be reached or gave no usable token (one line, for the CLI)."""


def _message(head: str) -> bytes:
    return head.encode("ascii")


def seal(
    ledger: Any,
    tsa_url: str,
    *,
    timeout: float = 15.0,
    transport: Any = None,
) -> dict[str, Any]:
    """Obtain a time stamp over ``ledger``'s current chain head from ``tsa_url`` and store it.

    Returns the stored row. Raises :class:`SealError` when the TSA fails, answers something
    that is not a granted time stamp, or a token whose imprint or nonce does not match.
    """
    import httpx
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response

    from . import RunInfo

    entries, _ = ledger.chain.read()
    if not entries:
        raise SealError("the ledger's chain is empty: nothing to seal")
    head = str(entries[-1]["entry_hash"])
    message = _message(head)
    request = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)  # the library's default is SHA-512
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client, client.stream(
            "POST",
            tsa_url,
            content=request.as_bytes(),
            headers={"Content-Type": CONTENT_TYPE},
        ) as resp:
            body = b""
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise SealError(f"{tsa_url}: response larger than {MAX_RESPONSE_BYTES} bytes")
            status = resp.status_code
    except httpx.HTTPError as exc:
        raise SealError(f"{tsa_url}: {type(exc).__name__}: {exc}") from None
    if status != 200:
        raise SealError(f"{tsa_url}: HTTP {status}")
    try:
        tsr = decode_timestamp_response(body)
    except Exception as exc:
        raise SealError(f"{tsa_url}: not a time-stamp response ({exc})") from None
    if int(tsr.status) not in (0, 1):  # granted, grantedWithMods
        raise SealError(f"{tsa_url}: time stamp not granted (PKIStatus {int(tsr.status)})")
    info = tsr.tst_info
    if bytes(info.message_imprint.message) != hashlib.sha256(message).digest():
        raise SealError(f"{tsa_url}: the token's imprint is not the chain head's")
    if info.nonce != request.nonce:
        raise SealError(f"{tsa_url}: the token's nonce is not the request's")
    row = {
        "seal_id": f"s-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}",
        "chain_head": head,
        "chain_entries": len(entries),
        "message_sha256": hashlib.sha256(message).hexdigest(),
        "tsa_url": tsa_url,
        "gen_time": info.gen_time.astimezone(UTC),
        "serial_number": str(info.serial_number),
        "policy": info.policy.dotted_string if info.policy is not None else None,
        "nonce": str(info.nonce) if info.nonce is not None else None,
        "token": body,
    }
    run = RunInfo(kind="seal", config={"command": "ledger seal", "tsa": tsa_url})
    with ledger.writer(run, flush_seconds=None) as w:
        w.add_seal(row)
    return {**row, "run_id": run.run_id}


@dataclass
class SealCheck:
    seal_id: str
    chain_head: str
    gen_time: datetime | None
    tsa_url: str | None
    ok: bool
    signature: str  # verified | not-checked | failed
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        when = f"{self.gen_time:%Y-%m-%d %H:%M:%S}Z" if self.gen_time else "?"
        state = "OK" if self.ok else "FAIL"
        sig = {
            "verified": "TSA signature verified against the given root",
            "not-checked": "TSA signature not checked (give --tsa-root)",
            "failed": "TSA signature FAILED",
        }[self.signature]
        extra = "; " + "; ".join(self.problems) if self.problems else ""
        return (
            f"seal {self.seal_id}: {state}, chain head {self.chain_head[:16]}... existed no "
            f"later than {when} ({self.tsa_url}); {sig}{extra}"
        )


def verify_seals(ledger: Any, roots: list[Any] | None = None) -> list[SealCheck]:
    """Check every stored seal: the token decodes, its imprint is the sealed head's, the head
    is an entry of this ledger's chain, and (with ``roots``, x509 certificates) the TSA's
    signature chains to one of them."""
    from rfc3161_client import VerifierBuilder, decode_timestamp_response

    entries, _ = ledger.chain.read()
    hashes = {str(e.get("entry_hash")) for e in entries}
    con = ledger.connect()
    rows = con.execute(
        "SELECT seal_id, chain_head, tsa_url, token FROM seals ORDER BY recorded_at, seal_id"
    ).fetchall()
    out = []
    for seal_id, head, url, token in rows:
        problems: list[str] = []
        gen = None
        signature = "not-checked"
        message = _message(head)
        try:
            tsr = decode_timestamp_response(bytes(token))
            gen = tsr.tst_info.gen_time.astimezone(UTC)
            if bytes(tsr.tst_info.message_imprint.message) != hashlib.sha256(message).digest():
                problems.append("token imprint is not the sealed head's")
            if roots:
                builder = VerifierBuilder()
                for r in roots:
                    builder = builder.add_root_certificate(r)
                try:
                    builder.build().verify_message(tsr, message)
                    signature = "verified"
                except Exception as exc:
                    signature = "failed"
                    problems.append(f"signature: {exc}")
        except Exception as exc:
            problems.append(f"token does not decode ({exc})")
        if head not in hashes:
            problems.append("the sealed head is not an entry of this ledger's chain")
        out.append(SealCheck(seal_id, head, gen, url, not problems, signature, problems))
    return out
