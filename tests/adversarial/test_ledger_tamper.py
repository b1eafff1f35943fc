"""The tamper matrix: what `ledger verify` catches in an unsigned and in a signed ledger.

An insider with write access to the ledger directory can rewrite the chain's tail, roll it
back, or add a forged segment together with a correctly built chain entry. Without a key only
a published head (``--head``) catches the first two and nothing the third; with entries signed
(``--key``) every forged or rewritten entry fails, and a rollback is caught by leftover files or
the published head.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.ledger import Ledger, RunInfo
from tdmscan.ledger.chain import GENESIS, build_entry, entry_line
from tdmscan.ledger.signing import KEY_ENV, generate_key, load_signer
from tdmscan.types import Decision


def _decisions(n: int, start: int = 0) -> list[Decision]:
    return [
        Decision(url=f"https://h{i % 7}.example.com/p/{i}", agent="GPTBot", verdict="allowed")
        for i in range(start, start + n)
    ]


def _write_run(root: Path, n: int, start: int = 0) -> None:
    with Ledger(root).writer(RunInfo(), shards=2, flush_rows=20, flush_seconds=None) as w:
        w.add_many(_decisions(n, start))


@pytest.fixture
def key(tmp_path: Path) -> Path:
    p = tmp_path / "ledger.key"
    generate_key(p)
    return p


def _ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: Path | None) -> Path:
    root = tmp_path / "L"
    if key is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, str(key))
    _write_run(root, 100)
    _write_run(root, 60, start=1000)
    monkeypatch.delenv(KEY_ENV, raising=False)  # the attacker does not hold the key
    return root


def _entries(root: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (root / "chain.jsonl").read_text().splitlines()]


def _write_entries(root: Path, entries: list[dict[str, Any]]) -> None:
    (root / "chain.jsonl").write_bytes(b"".join(entry_line(e) for e in entries))


def _rebuild(entries: list[dict[str, Any]], start: int, signer: Any = None) -> None:
    """Recompute every link from ``start`` on, as an attacker without the key would."""
    prev = entries[start - 1]["entry_hash"] if start else GENESIS
    for i in range(start, len(entries)):
        e = {k: v for k, v in entries[i].items() if k not in ("entry_hash", "sig", "seq", "prev")}
        entries[i] = build_entry(e, i, prev, signer=signer)
        prev = entries[i]["entry_hash"]


def _forge_segment(root: Path) -> None:
    """Copy a decisions segment under a new name and append a correctly built chain entry."""
    entries = _entries(root)
    src = next(e for e in reversed(entries) if e["table"] == "decisions" and e["rows"])
    data = (root / src["path"]).read_bytes()
    rel = src["path"].rsplit("/", 1)[0] + "/part-forged-000000.parquet"
    (root / rel).write_bytes(data)
    fields = {k: src[k] for k in ("op", "table", "run_id", "replaces")}
    fields.update(
        path=rel, sha256=hashlib.sha256(data).hexdigest(), rows=src["rows"], bytes=len(data)
    )
    entries.append(build_entry(fields, len(entries), entries[-1]["entry_hash"], signer=None))
    _write_entries(root, entries)


def _rewrite_tail(root: Path) -> None:
    """Change the row count of the last decisions entry and recompute the chain after it."""
    entries = _entries(root)
    i = max(j for j, e in enumerate(entries) if e["table"] == "decisions")
    entries[i]["rows"] += 5
    _rebuild(entries, i)
    _write_entries(root, entries)


def _roll_back(root: Path, delete_files: bool) -> None:
    entries = _entries(root)
    dropped, kept = entries[-4:], entries[:-4]
    _write_entries(root, kept)
    if delete_files:
        for e in dropped:
            (root / e["path"]).unlink(missing_ok=True)


def _verify(root: Path, head: str | None = None, trusted: list[str] | None = None):
    return Ledger(root, create=False).verify(expected_head=head, trusted=trusted)


def test_unsigned_ledger_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _ledger(tmp_path, monkeypatch, None)
    rep = _verify(root)
    assert rep.ok and rep.signature == "unsigned" and not rep.signers


def test_signed_ledger_names_its_signer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: Path
) -> None:
    root = _ledger(tmp_path, monkeypatch, key)
    rep = _verify(root)
    kid = load_signer(key).key_id
    assert rep.ok and rep.signature == "signed"
    assert rep.signers == {kid: rep.entries}
    assert _verify(root, trusted=[kid]).ok
    assert not _verify(root, trusted=["0" * 16]).ok


# (attack, signed) -> caught without --head
MATRIX = {
    ("forged-segment", False): False,  # the hole the issue names: nothing catches it unsigned
    ("forged-segment", True): True,
    ("rewrite-tail", False): False,
    ("rewrite-tail", True): True,
    ("roll-back-keep-files", False): True,  # the dropped entries' files are "extra"
    ("roll-back-keep-files", True): True,
    ("roll-back-delete-files", False): False,  # only a published head catches this
    ("roll-back-delete-files", True): False,
}


@pytest.mark.parametrize(("attack", "signed"), sorted(MATRIX))
def test_tamper_matrix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: Path, attack: str, signed: bool
) -> None:
    root = _ledger(tmp_path, monkeypatch, key if signed else None)
    head = _verify(root).head
    {
        "forged-segment": _forge_segment,
        "rewrite-tail": _rewrite_tail,
        "roll-back-keep-files": lambda r: _roll_back(r, False),
        "roll-back-delete-files": lambda r: _roll_back(r, True),
    }[attack](root)
    rep = _verify(root)
    assert (not rep.ok) == MATRIX[(attack, signed)], rep.issues
    if signed and attack in ("forged-segment", "rewrite-tail"):
        assert {i.kind for i in rep.issues} == {"signature"}
    # A published head catches every attack that changes or drops published entries.
    if attack != "forged-segment":
        assert not _verify(root, head=head).ok


def test_resigning_with_another_key_names_the_other_signer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: Path
) -> None:
    """Rewriting the whole chain with one's own key verifies only as *that* key: --trust (or
    comparing the printed key id with the published one) catches it."""
    root = _ledger(tmp_path, monkeypatch, key)
    other = tmp_path / "attacker.key"
    generate_key(other)
    entries = _entries(root)
    entries[-1]["rows"] += 1
    _rebuild(entries, 0, signer=load_signer(other))
    _write_entries(root, entries)
    rep = _verify(root)
    assert rep.signers == {load_signer(other).key_id: len(entries)}
    assert not _verify(root, trusted=[load_signer(key).key_id]).ok


def test_cli_keygen_key_and_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakeweb: Any, fakeweb_env: Any
) -> None:
    from tdmscan.fakeweb import Resp, Site

    monkeypatch.delenv(KEY_ENV, raising=False)
    fakeweb_env(fakeweb([Site("a.test", {"/robots.txt": Resp(body="User-agent: *\n")})]))
    run = CliRunner()
    key = tmp_path / "k"
    r = run.invoke(main, ["ledger", "keygen", str(key)])
    assert r.exit_code == 0 and (tmp_path / "k.pub").exists(), r.output
    kid = load_signer(key).key_id
    assert kid in r.output
    assert run.invoke(main, ["ledger", "keygen", str(key)]).exit_code != 0  # never overwrites
    led = tmp_path / "L"
    r = run.invoke(main, ["check", "http://a.test/x", "--ledger", str(led), "--key", str(key)])
    assert r.exit_code == 0, r.output
    assert KEY_ENV not in os.environ  # --key does not outlive the command
    r = run.invoke(main, ["ledger", "verify", "--ledger", str(led), "--trust", f"{key}.pub"])
    assert r.exit_code == 0 and f"signed by ed25519 key {kid}" in r.output, r.output
    _forge_segment(led)
    r = run.invoke(main, ["ledger", "verify", "--ledger", str(led)])
    assert r.exit_code == 1 and "unsigned entry in a signed chain" in r.output, r.output
    r = run.invoke(main, ["check", "http://a.test/x", "--ledger", str(led), "--key", "/nope"])
    assert r.exit_code == 2 and "--key" in r.output


def test_unsigned_cli_verify_says_unsigned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    root = _ledger(tmp_path, monkeypatch, None)
    r = CliRunner().invoke(main, ["ledger", "verify", "--ledger", str(root)])
    assert r.exit_code == 0 and "unsigned:" in r.output, r.output
