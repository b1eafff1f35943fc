"""Licence URL -> SPDX mapping (with edge cases)."""

from __future__ import annotations

import pytest

from tdmscan.signals.licences import licence_from_url, licences_in_text


@pytest.mark.parametrize(
    ("url", "spdx"),
    [
        # §8.6-1
        ("https://creativecommons.org/licenses/by-SA/4.0/deed.de?ref=chooser-v1", "CC-BY-SA-4.0"),
        ("https://creativecommons.org/licenses/by-nd-nc/1.0/", "CC-BY-NC-ND-1.0"),
        ("https://creativecommons.org/licenses/by/3.0/fr/", "LicenseRef-CC-BY-3.0-FR"),
        # grammar variants
        ("http://www.creativecommons.org/licenses/by/4.0", "CC-BY-4.0"),
        ("https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode", "CC-BY-NC-SA-4.0"),
        ("https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode.fr", "CC-BY-NC-SA-4.0"),
        ("https://creativecommons.org/licenses/by/4.0/deed", "CC-BY-4.0"),
        ("https://creativecommons.org/licenses/by/4.0/#ref", "CC-BY-4.0"),
        ("HTTPS://CreativeCommons.org/Licenses/BY/4.0/", "CC-BY-4.0"),
        ("//creativecommons.org/licenses/by-nd/2.5/", "CC-BY-ND-2.5"),
        ("https://creativecommons.org:443/licenses/by-nc/2.0/", "CC-BY-NC-2.0"),
        ("https://creativecommons.org/licenses/by-nc-nd/3.0/", "CC-BY-NC-ND-3.0"),
        # ports with and without SPDX ids
        ("https://creativecommons.org/licenses/by/3.0/de/", "CC-BY-3.0-DE"),
        ("https://creativecommons.org/licenses/by/3.0/igo/legalcode", "CC-BY-3.0-IGO"),
        ("https://creativecommons.org/licenses/by-sa/2.1/jp/", "CC-BY-SA-2.1-JP"),
        ("https://creativecommons.org/licenses/by/2.1/jp/", "LicenseRef-CC-BY-2.1-JP"),
        ("https://creativecommons.org/licenses/by-nc-sa/2.0/uk/", "CC-BY-NC-SA-2.0-UK"),
        ("https://creativecommons.org/licenses/by/2.5/au/", "CC-BY-2.5-AU"),
        # 1.0 oddities
        ("https://creativecommons.org/licenses/sa/1.0/", "CC-SA-1.0"),
        ("https://creativecommons.org/licenses/nd-nc/1.0/", "LicenseRef-CC-NC-ND-1.0"),
        ("https://creativecommons.org/licenses/nc/1.0/", "LicenseRef-CC-NC-1.0"),
        ("https://creativecommons.org/licenses/nd/1.0/", "LicenseRef-CC-ND-1.0"),
        ("https://creativecommons.org/licenses/nc-sa/1.0/", "LicenseRef-CC-NC-SA-1.0"),
        ("https://creativecommons.org/licenses/sampling+/1.0/", "LicenseRef-CC-SAMPLING-PLUS-1.0"),
        # public domain tools
        ("https://creativecommons.org/publicdomain/zero/1.0/", "CC0-1.0"),
        ("http://creativecommons.org/publicdomain/zero/1.0/legalcode", "CC0-1.0"),
        ("https://creativecommons.org/publicdomain/mark/1.0/", "CC-PDM-1.0"),
        ("https://creativecommons.org/licenses/publicdomain/", "CC-PDDC"),
        # Open Data Commons
        ("https://opendatacommons.org/licenses/odbl/1-0/", "ODbL-1.0"),
        ("http://opendatacommons.org/licenses/odbl/1.0/", "ODbL-1.0"),
        ("https://opendatacommons.org/licenses/odbl/summary/", "ODbL-1.0"),
        ("https://opendatacommons.org/licenses/by/1-0/", "ODC-By-1.0"),
        ("https://opendatacommons.org/licenses/pddl/1-0/", "PDDL-1.0"),
    ],
)
def test_mapping(url, spdx):
    lid = licence_from_url(url)
    assert lid is not None and lid.spdx == spdx
    assert lid.is_spdx is (not spdx.startswith("LicenseRef-"))


def test_port_keeps_structured_fields():
    lid = licence_from_url("https://creativecommons.org/licenses/by/3.0/fr/deed.fr")
    assert (lid.family, lid.version, lid.jurisdiction) == ("CC-BY", "3.0", "FR")
    assert lid.url == "https://creativecommons.org/licenses/by/3.0/fr/"
    assert not lid.is_spdx


def test_unported_structured_fields():
    lid = licence_from_url("https://creativecommons.org/licenses/by-nd-nc/1.0/")
    assert (lid.family, lid.version, lid.jurisdiction) == ("CC-BY-NC-ND", "1.0", None)


def test_badges_are_hints():
    lid = licence_from_url("https://i.creativecommons.org/l/by-sa/4.0/88x31.png")
    assert lid.spdx == "CC-BY-SA-4.0" and lid.hint
    lid = licence_from_url("https://licensebuttons.net/p/zero/1.0/88x31.png")
    assert lid.spdx == "CC0-1.0" and lid.hint


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/licenses/by/4.0/",
        "https://creativecommons.org/",
        "https://creativecommons.org/licenses/by/5.0/",
        "https://creativecommons.org/licenses/xyz/4.0/",
        "https://creativecommons.org/licenses/by/",
        "https://creativecommons.org/about",
        "mailto:x@creativecommons.org",
        "",
        "not a url",
        "https://creativecommons.org/licenses/by/4.0/a/b/c/",
        None,
        12,
    ],
)
def test_not_licences(url):
    assert licence_from_url(url) is None  # type: ignore[arg-type]


def test_licences_in_free_text():
    text = (
        "Text is available under https://creativecommons.org/licenses/by-sa/4.0/. "
        "Data: <http://opendatacommons.org/licenses/odbl/1.0/>, see also example.com"
    )
    assert [x.spdx for x in licences_in_text(text)] == ["CC-BY-SA-4.0", "ODbL-1.0"]
    assert licences_in_text(None) == ()  # type: ignore[arg-type]
