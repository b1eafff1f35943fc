"""A minimal RFC 3161 time-stamping authority for tests: a test CA made with `cryptography`,
a TSA certificate with the critical timeStamping EKU, and TimeStampResp built in DER."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(*parts: bytes) -> bytes:
    return tlv(0x31, b"".join(sorted(parts)))


def integer(v: int) -> bytes:
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return tlv(0x02, b)


def oid(dotted: str) -> bytes:
    a = [int(x) for x in dotted.split(".")]
    out = bytearray([40 * a[0] + a[1]])
    for v in a[2:]:
        enc = [v & 0x7F]
        v >>= 7
        while v:
            enc.append(0x80 | (v & 0x7F))
            v >>= 7
        out += bytes(reversed(enc))
    return tlv(0x06, bytes(out))


def octets(b: bytes) -> bytes:
    return tlv(0x04, b)


def explicit(n: int, body: bytes) -> bytes:
    return tlv(0xA0 + n, body)


NULL = b"\x05\x00"
SHA256 = "2.16.840.1.101.3.4.2.1"


class LocalTSA:
    def __init__(self) -> None:
        now = datetime.now(UTC) - timedelta(days=1)
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tdmscan test CA")])
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(self.ca_key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tdmscan test TSA")]))
            .issuer_name(ca_name)
            .public_key(self.key.public_key())
            .serial_number(2)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.serial = 100

    def ca_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)

    def respond(self, digest: bytes, nonce: int | None, when: datetime | None = None) -> bytes:
        self.serial += 1
        when = when or datetime.now(UTC)
        tst = seq(
            integer(1),
            oid("1.3.6.1.4.1.99999.1"),
            seq(seq(oid(SHA256), NULL), octets(digest)),
            integer(self.serial),
            tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode()),
            *( [integer(nonce)] if nonce is not None else [] ),
        )
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        ess = seq(seq(seq(octets(hashlib.sha256(cert_der).digest()))))
        attrs = [
            seq(oid("1.2.840.113549.1.9.3"), set_of(oid("1.2.840.113549.1.9.16.1.4"))),
            seq(oid("1.2.840.113549.1.9.4"), set_of(octets(hashlib.sha256(tst).digest()))),
            seq(oid("1.2.840.113549.1.9.16.2.47"), set_of(ess)),
        ]
        signed_attrs = set_of(*attrs)
        sig = self.key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        issuer_der = self.cert.issuer.public_bytes()
        signer = seq(
            integer(1),
            seq(issuer_der, integer(self.cert.serial_number)),
            seq(oid(SHA256), NULL),
            b"\xa0" + signed_attrs[1:],  # [0] IMPLICIT SET OF Attribute
            seq(oid("1.2.840.113549.1.1.11"), NULL),
            octets(sig),
        )
        signed_data = seq(
            integer(3),
            set_of(seq(oid(SHA256), NULL)),
            seq(oid("1.2.840.113549.1.9.16.1.4"), explicit(0, octets(tst))),
            tlv(0xA0, cert_der),
            set_of(signer),
        )
        token = seq(oid("1.2.840.113549.1.7.2"), explicit(0, signed_data))
        return seq(seq(integer(0)), token)
