"""The protocol registry: data every Evidence row names, shown by ``tdmscan protocols``."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from tdmscan.cli import main
from tdmscan.policy import SPEC, evaluate
from tdmscan.reports.common import PROTOCOLS
from tdmscan.signals.registry import LEGAL_STANDINGS, load_registry, parse_registry
from tdmscan.types import Fetched

ORIGIN = "https://pub.example"


def test_every_entry_is_complete_and_reviewed():
    reg = load_registry()
    assert reg.version and len(reg.protocols) >= 10
    for p in reg.protocols:
        assert p.legal_standing in LEGAL_STANDINGS
        assert p.version and p.spec and p.tier and p.read_from
        dt.date.fromisoformat(p.reviewed)
    assert reg.get("robots").legal_standing == "code-1.3"


def _many_decisions():
    robots = (
        b"Content-Signal: ai-train=no\n"
        b"User-agent: *\nDisallow: /private/\nContent-Usage: train-ai=n\n"
        b"License: https://pub.example/license.xml\n"
    )
    rsl_doc = (
        b'<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license>'
        b'<prohibits type="usage">ai-train</prohibits></license></content></rsl>'
    )
    page = Fetched(
        status=200,
        headers={
            "content-type": "text/html",
            "x-robots-tag": "noai",
            "tdm-reservation": "1",
            "link": '<https://creativecommons.org/licenses/by/4.0/>; rel="license"',
        },
        body=b'<html><head><meta name="robots" content="noimageai"></head></html>',
        url=ORIGIN + "/a",
    )
    common = {
        "robots_txt": robots,
        "tdmrep_json": b'[{"location": "/", "tdm-reservation": 1}]',
        "ai_txt": b"User-agent: *\nDisallow: /\n",
        "rsl_documents": {ORIGIN + "/license.xml": rsl_doc},
    }
    yield evaluate(ORIGIN + "/a", response=page, **common)
    yield evaluate(ORIGIN + "/private/x", **common)
    yield evaluate(ORIGIN + "/b", response=Fetched(status=402, url=ORIGIN + "/b"), **common)
    yield evaluate(ORIGIN + "/c", response=Fetched(status=503, url=ORIGIN + "/c"), **common)


def test_every_evidence_row_names_its_registry_entry():
    reg = load_registry()
    seen = set()
    for d in _many_decisions():
        for e in d.evidence:
            entry = reg.get(e.protocol)
            assert entry is not None, e
            assert e.spec_version == entry.version, e
            seen.add(e.protocol)
    assert {"robots", "tdmrep", "aipref", "content-signal", "rsl", "ai-txt", "access"} <= seen


def test_policy_and_reports_read_the_registry():
    reg = load_registry()
    assert reg.versions() == SPEC
    assert [p[0] for p in PROTOCOLS] == [p.id for p in reg.protocols]
    assert dict((p[0], p[2]) for p in PROTOCOLS)["robots"] == reg.get("robots").tier


def test_malformed_registry_is_refused():
    good = '[[protocol]]\nid="x"\nname="X"\nspec="S"\nversion="1"\nread_from=["site"]\n'
    with pytest.raises(ValueError, match="legal_standing"):
        parse_registry(good + 'legal_standing="maybe"\ntier="t"\nreviewed="2026-01-01"\n')
    with pytest.raises(ValueError, match="lacks"):
        parse_registry(good + 'legal_standing="convention"\n')


def test_cli_lists_the_registry():
    r = CliRunner().invoke(main, ["protocols"])
    assert r.exit_code == 0, r.output
    for p in load_registry().protocols:
        assert f"{p.id}: {p.name}" in r.output and p.version in r.output
    j = CliRunner().invoke(main, ["protocols", "--json", "tdmrep"])
    doc = json.loads(j.output)
    assert [p["id"] for p in doc["protocols"]] == ["tdmrep"]
    assert doc["protocols"][0]["legal_standing"] == "listed"


def test_cli_unknown_protocol_is_one_line_exit_2():
    r = CliRunner().invoke(main, ["protocols", "nope"])
    assert r.exit_code == 2
    assert r.output.strip().count("\n") == 0 and "unknown protocol 'nope'" in r.output
