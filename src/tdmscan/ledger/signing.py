"""Ed25519 signatures on chain entries: a ledger only the key holder can extend quietly.

The hash chain alone proves order and integrity *given the head*: anyone who can write the
ledger directory can append a forged segment with a correctly built entry, or rewrite the tail
and recompute every hash after it. A signature binds each entry to a key the operator holds.

An entry is signed when a key is active (``--key FILE`` on a writing command, or the
``TDMSCAN_LEDGER_KEY`` environment variable, which child processes inherit). The signature is
a field of the entry::

    "sig": {"alg": "ed25519", "key": "<key id>", "pub": "<base64 public key>",
            "value": "<base64 signature>"}

``value`` signs the UTF-8 hex of ``sha256(prev + canonical(entry without entry_hash and sig))``
(the entry hash it would have unsigned), and ``entry_hash`` then covers the ``sig`` field too,
so the next entry's ``prev`` commits to the signature: stripping one breaks the chain. The key
id is the first 16 hex digits of sha256 of the raw public key. How entries are persisted
(file, object store) and what seals the head (RFC 3161) are independent of this module.

What a signature does not do: stop a key holder, or anyone who steals the key, from writing a
new history; stop a rollback (dropping the newest entries and their files leaves a valid signed
chain: compare with a published or timestamped head); or tell you whose key it is (``verify``
names the key id: check it against the one you published, or pass ``--trust``).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KEY_ENV = "TDMSCAN_LEDGER_KEY"
ALG = "ed25519"


class KeyError_(ValueError):
    """A key file that cannot be used (missing, unreadable, not an Ed25519 key)."""


def _raw_public(pub: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    private: Any  # cryptography Ed25519PrivateKey
    key_id: str
    pub_b64: str
    path: str = ""

    def sign(self, message_hex: str) -> dict[str, str]:
        sig = self.private.sign(message_hex.encode("ascii"))
        return {
            "alg": ALG,
            "key": self.key_id,
            "pub": self.pub_b64,
            "value": base64.b64encode(sig).decode("ascii"),
        }


def generate_key(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Write a new private key to ``path`` (PEM, mode 0600, refusing to overwrite) and its
    public key to ``path.pub``; returns (key id, public key path)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = os.fspath(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub = key.public_key()
    pub_path = p + ".pub"
    with open(pub_path, "wb") as fh:
        fh.write(
            pub.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return key_id(_raw_public(pub)), pub_path


def load_signer(path: str | os.PathLike[str]) -> Signer:
    """The signer of a private key file written by :func:`generate_key` (any PEM Ed25519)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeyError_(f"{p}: {exc.strerror or exc}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"{p}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyError_(f"{p}: not an Ed25519 key")
    raw = _raw_public(key.public_key())
    return Signer(key, key_id(raw), base64.b64encode(raw).decode("ascii"), p)


def load_public_key_id(path: str | os.PathLike[str]) -> str:
    """The key id of a public key file (``.pub`` from keygen) or of a private key file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise KeyError_(f"{p}: {exc.strerror or exc}") from exc
    try:
        pub = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        return load_signer(p).key_id
    if not isinstance(pub, Ed25519PublicKey):
        raise KeyError_(f"{p}: not an Ed25519 key")
    return key_id(_raw_public(pub))


_cache: dict[str, tuple[float, Signer]] = {}


def active_signer() -> Signer | None:
    """The signer named by ``TDMSCAN_LEDGER_KEY``, or None (entries are then unsigned).

    A key that cannot be loaded raises: a writer asked to sign must not write unsigned.
    """
    path = os.environ.get(KEY_ENV)
    if not path:
        return None
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise KeyError_(f"{KEY_ENV}={path}: {exc.strerror or exc}") from exc
    found = _cache.get(path)
    if found is None or found[0] != mtime:
        found = (mtime, load_signer(path))
        _cache[path] = found
    return found[1]


def unsigned_hash(entry: Mapping[str, Any]) -> str:
    """The hash a signature signs: the entry hash computed without ``sig``."""
    from .chain import entry_hash

    return entry_hash({k: v for k, v in entry.items() if k != "sig"})


def sign_entry(full: dict[str, Any], signer: Signer | None) -> None:
    """Add ``sig`` to an entry (before its ``entry_hash`` is computed)."""
    if signer is not None:
        full["sig"] = signer.sign(unsigned_hash(full))


def check_entry(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """("unsigned" | "valid" | "bad: why", key id) for one chain entry."""
    sig = entry.get("sig")
    if sig is None:
        return "unsigned", None
    if not isinstance(sig, dict) or sig.get("alg") != ALG:
        return "bad: unknown signature format", None
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(str(sig.get("pub")), validate=True)
        value = base64.b64decode(str(sig.get("value")), validate=True)
        pub = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError):
        return "bad: malformed public key or signature", sig.get("key")
    kid = key_id(raw)
    if sig.get("key") != kid:
        return "bad: key id does not match the public key", kid
    try:
        pub.verify(value, unsigned_hash(entry).encode("ascii"))
    except InvalidSignature:
        return "bad: signature does not verify", kid
    return "valid", kid


@dataclass
class SignatureSummary:
    signed: int = 0
    unsigned: int = 0
    signers: dict[str, int] = field(default_factory=dict)
    #: (where, detail) for each problem found
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.signed:
            return "unsigned"
        return "signed" if not self.unsigned else "partly signed"


def check_chain(
    entries: Iterable[Mapping[str, Any]], trusted: Iterable[str] | None = None
) -> SignatureSummary:
    """Signature findings over a whole chain.

    Problems: a signature that does not verify; an unsigned entry after the first signed one
    (what appending without the key, e.g. a forged segment with a correctly built entry,
    looks like); a second signer without ``trusted`` naming both; a signer not in
    ``trusted``; and, when ``trusted`` is given, an unsigned ledger. Unsigned entries before
    the first signed one are a ledger that started signing later and are only counted.
    """
    trust = set(trusted) if trusted is not None else None
    out = SignatureSummary()
    first_signer: str | None = None
    for e in entries:
        where = f"chain.jsonl seq {e.get('seq', '?')}"
        status, kid = check_entry(e)
        if status == "unsigned":
            out.unsigned += 1
            if out.signed:
                out.problems.append((where, "unsigned entry in a signed chain"))
            continue
        if status != "valid":
            out.problems.append((where, status[5:]))
            continue
        assert kid is not None
        out.signed += 1
        out.signers[kid] = out.signers.get(kid, 0) + 1
        if trust is not None:
            if kid not in trust:
                out.problems.append((where, f"signed by untrusted key {kid}"))
        elif first_signer is None:
            first_signer = kid
        elif kid != first_signer:
            out.problems.append((where, f"signer changed from {first_signer} to {kid}"))
            first_signer = kid
    if trust is not None and not out.signed:
        out.problems.append(("chain.jsonl", "unsigned ledger, but --trust names a key"))
    return out
