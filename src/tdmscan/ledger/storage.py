"""Where a ledger lives: a local directory or an object-storage prefix (s3://, gs://, az://).

Object stores are reached through fsspec (s3fs, gcsfs, adlfs), configured from the
environment the way the providers' own tools read it, so a job that can run ``aws s3 ls`` or
``gcloud storage ls`` can also write a ledger:

* S3 and S3-compatible servers: ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) and
  ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` for a non-AWS endpoint. The endpoint and
  region are passed to the client explicitly: pyarrow's own S3 filesystem ignores
  ``AWS_ENDPOINT_URL`` and silently talks to AWS instead.
* Google Cloud Storage: ``GOOGLE_APPLICATION_CREDENTIALS`` (or the metadata server),
  ``STORAGE_EMULATOR_HOST`` for an emulator.
* Azure Blob Storage: ``AZURE_STORAGE_CONNECTION_STRING``, or ``AZURE_STORAGE_ACCOUNT_NAME``
  with ``AZURE_STORAGE_ACCOUNT_KEY`` / ``AZURE_STORAGE_SAS_TOKEN`` / a service principal.

A string with a scheme the ledger cannot use is an error, never a local directory whose name
happens to start with ``s3:``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

#: scheme -> (fsspec protocol, package that provides it, pip extra)
OBJECT_SCHEMES: dict[str, tuple[str, str, str]] = {
    "s3": ("s3", "s3fs", "s3"),
    "s3a": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gcs"),
    "gcs": ("gcs", "gcsfs", "gcs"),
    "az": ("abfs", "adlfs", "azure"),
    "abfs": ("abfs", "adlfs", "azure"),
    "abfss": ("abfs", "adlfs", "azure"),
}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


class LedgerLocationError(ValueError):
    """A ledger location that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class Location:
    """A parsed ledger location. ``root`` is a local absolute path, or ``bucket/prefix``."""

    scheme: str  # "" for a local directory
    root: str

    @property
    def is_local(self) -> bool:
        return not self.scheme

    @property
    def uri(self) -> str:
        return self.root if self.is_local else f"{self.scheme}://{self.root}"


def parse_location(location: str | os.PathLike[str]) -> Location:
    """Local directory or object-store URI; anything ambiguous is a :class:`LedgerLocationError`."""
    text = os.fspath(location)
    if not text or not text.strip():
        raise LedgerLocationError("empty ledger location")
    m = _SCHEME.match(text)
    # A one-letter "scheme" is a Windows drive (C:\...), not a URI.
    if m is None or len(m.group(1)) == 1:
        return Location("", os.path.abspath(text))
    scheme = m.group(1).lower()
    rest = text[m.end() :]
    if scheme == "file":
        if not rest.startswith("//"):
            raise LedgerLocationError(f"{text}: a file URI is file:///absolute/path")
        return Location("", os.path.abspath(rest[2:] or "/"))
    if scheme not in OBJECT_SCHEMES:
        raise LedgerLocationError(
            f"{text}: unsupported ledger location scheme {scheme!r} "
            f"(use a local directory or one of s3://, gs://, az://)"
        )
    if not rest.startswith("//"):
        # "s3:/bucket/x" or "s3:bucket": a mangled URI; as a path it would create ./s3:/...
        raise LedgerLocationError(
            f"{text}: not a valid {scheme}:// URI (expected {scheme}://BUCKET/PREFIX)"
        )
    path = rest[2:].rstrip("/")
    bucket = path.split("/", 1)[0]
    if not bucket:
        raise LedgerLocationError(f"{text}: no bucket or container named")
    if any(part in (".", "..") for part in path.split("/")):
        raise LedgerLocationError(f"{text}: '.' and '..' are not allowed in an object-store path")
    return Location(scheme, path)


def normalise(location: str | os.PathLike[str]) -> str:
    """``location`` as a string every process can reopen: absolute path or canonical URI."""
    return parse_location(location).uri


def is_object_uri(location: str | os.PathLike[str]) -> bool:
    """True when ``location`` names an object store (it may still be invalid)."""
    m = _SCHEME.match(os.fspath(location))
    return bool(m) and len(m.group(1)) > 1 and m.group(1).lower() not in ("file",)


def _env(*names: str) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return None


def s3_options() -> dict[str, Any]:
    """s3fs options from the standard AWS variables (botocore reads the credentials itself)."""
    client: dict[str, Any] = {}
    endpoint = _env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    if endpoint:
        client["endpoint_url"] = endpoint
    region = _env("AWS_REGION", "AWS_DEFAULT_REGION")
    if region:
        client["region_name"] = region
    opts: dict[str, Any] = {"client_kwargs": client}
    # The ledger writes whole objects; s3fs's listing cache would hide other writers' entries.
    opts["use_listings_cache"] = False
    return opts


def filesystem(loc: Location) -> Any:
    """The fsspec filesystem for an object-store location (a fresh instance per call)."""
    protocol, package, extra = OBJECT_SCHEMES[loc.scheme]
    try:
        import fsspec

        cls = fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as exc:
        raise LedgerLocationError(
            f"{loc.uri}: {loc.scheme}:// ledgers need the {package} package "
            f"(pip install 'tdmscan[{extra}]')"
        ) from exc
    if protocol == "s3":
        opts = s3_options()
    elif protocol == "abfs":
        opts = {}
        conn = _env("AZURE_STORAGE_CONNECTION_STRING")
        if conn:
            opts["connection_string"] = conn
        else:
            account = _env("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT")
            if account:
                opts["account_name"] = account
            key = _env("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY")
            if key:
                opts["account_key"] = key
            sas = _env("AZURE_STORAGE_SAS_TOKEN")
            if sas:
                opts["sas_token"] = sas
    else:
        opts = {}
    # skip_instance_cache: two Ledger objects (two writers in one test process) must not share
    # one client whose event loop belongs to another thread.
    return cls(skip_instance_cache=True, **opts)
