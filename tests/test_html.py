"""HTML head signals: robots meta, TDMRep meta, licences, RSL."""

from __future__ import annotations

from tdmscan.signals.html import HEAD_MAX_BYTES, parse_html_head


def page(head: str, body: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def test_meta_robots_noai_case_insensitive():
    # §7.5-3: <meta name="ROBOTS" content="NoAI">
    h = parse_html_head(page('<meta name="ROBOTS" content="NoAI">'))
    assert h.ok and h.robots.all == {"noai"}


def test_meta_robots_several_combine():
    h = parse_html_head(
        page('<meta name="robots" content="noai, noimageai"><meta name=robots content=noarchive>')
    )
    assert h.robots.all == {"noai", "noimageai", "noarchive"}


def test_bot_named_meta():
    h = parse_html_head(
        page('<meta name="GPTBot" content="noai"><meta name="CCBot" content="nofollow">')
    )
    assert h.robots.all == frozenset()
    assert h.robots.for_agent("gptbot") == {"noai"}
    assert h.robots.for_agent("CCBot/2.0") == {"nofollow"}
    assert h.robots.for_agent("ClaudeBot") == frozenset()


def test_unrelated_metas_not_read_as_bots():
    h = parse_html_head(
        page(
            '<meta name="description" content="noindex"><meta name="viewport" '
            'content="width=device-width"><meta name="author" content="Ann">'
        )
    )
    assert not h.robots


def test_meta_in_body_ignored_but_recorded():
    h = parse_html_head(page("<title>t</title>", '<meta name="robots" content="noai">'))
    assert h.robots.all == frozenset()
    assert h.ignored_body_meta == ('<meta name="robots" content="noai">',)


def test_meta_after_stray_body_content_is_body():
    # The HTML5 tree builder ends the head at the first body element.
    h = parse_html_head(b'<html><head><div>x</div><meta name="tdm-reservation" content="1">')
    assert h.tdm.reservation is None
    assert h.ignored_body_meta


def test_tdm_meta():
    h = parse_html_head(
        page(
            '<meta name="tdm-reservation" content="1">'
            '<meta name="tdm-policy" content="https://pub.example/tdm/policy.json">'
        )
    )
    assert h.tdm.reservation == 1
    assert h.tdm.policy == "https://pub.example/tdm/policy.json"
    assert h.has_tdm_meta


def test_tdm_meta_conflicting():
    h = parse_html_head(
        page('<meta name="tdm-reservation" content="0"><meta name="tdm-reservation" content="1">')
    )
    assert h.tdm.reservation == 1 and h.tdm.lenient and h.tdm.values == ("0", "1")


def test_licence_links_head_and_body():
    h = parse_html_head(
        page(
            '<link rel="License noopener" href="https://creativecommons.org/licenses/by/4.0/">'
            '<link rel="license" type="application/rsl+xml" href="/license.xml">',
            '<a rel="license noreferrer" href="https://creativecommons.org/licenses/by-sa/4.0/">'
            'cc</a><area rel=license href="/l2"><a rel="nofollow" href="/x">x</a>',
        )
    )
    got = [(x.url, x.rsl, x.source) for x in h.licences]
    assert got == [
        ("https://creativecommons.org/licenses/by/4.0/", False, "html link"),
        ("/license.xml", True, "html link"),
        ("https://creativecommons.org/licenses/by-sa/4.0/", False, "html a (body)"),
        ("/l2", False, "html area (body)"),
    ]


def test_licence_link_without_type():
    # §5.5-3: a rel=license link without type is recorded; only a fetch can tell RSL from CC.
    h = parse_html_head(page('<link rel="license" href="https://ex.com/license.xml">'))
    assert h.licences[0].type is None and not h.licences[0].rsl


def test_rsl_inline_script():
    h = parse_html_head(
        page('<script type="application/rsl+xml"><rsl><content url="/"/></rsl></script>')
    )
    assert h.rsl_scripts == ('<rsl><content url="/"/></rsl>',)


def test_jsonld_page_vs_image_scope():
    # §8.6-2: page CC-BY, image "all rights reserved" -> both recorded at their own scope.
    ld = """{"@context":"https://schema.org","@graph":[
      {"@type":"Article","license":"https://creativecommons.org/licenses/by/4.0/",
       "image":{"@type":"ImageObject","license":"https://ex.com/all-rights-reserved"},
       "mainEntity":{"@type":"CreativeWork","license":[{"@id":"https://a/l1"},
                     {"@type":"CreativeWork","url":"https://a/l2","name":"L2"},
                     {"@type":"CreativeWork","name":"Only a name"}]}}]}"""
    h = parse_html_head(page(f'<script type="application/ld+json">{ld}</script>'))
    got = [(x.value, x.node_type, x.scope, x.name) for x in h.jsonld_licences]
    assert got == [
        ("https://creativecommons.org/licenses/by/4.0/", "Article", "page", None),
        ("https://ex.com/all-rights-reserved", "ImageObject", "image", None),
        ("https://a/l1", "CreativeWork", "page", None),
        ("https://a/l2", "CreativeWork", "page", "L2"),
        ("Only a name", "CreativeWork", "page", "Only a name"),
    ]
    assert h.jsonld_licences[1].path == "[0]/@graph/0/image/license"


def test_jsonld_image_without_type_and_multiple_blocks_and_junk():
    h = parse_html_head(
        page(
            '<script type="application/ld+json">{"image":{"license":"https://i/l"}}</script>'
            '<script type="application/ld+json">not json</script>',
            '<script type="application/ld+json">[{"@type":["Photograph"],"license":"x"}]</script>',
        )
    )
    assert [(x.value, x.scope, x.block) for x in h.jsonld_licences] == [
        ("https://i/l", "image", 0),
        ("x", "image", 2),
    ]
    assert any("not valid JSON" in p for p in h.problems)


def test_jsonld_deep_nesting_does_not_raise():
    deep = '{"a":' * 5000 + '"x"' + "}" * 5000
    h = parse_html_head(page(f'<script type="application/ld+json">{deep}</script>'))
    assert h.ok and h.jsonld_licences == ()


def test_dublin_core():
    h = parse_html_head(
        page(
            '<link rel="schema.DC" href="http://purl.org/dc/elements/1.1/">'
            '<meta name="DC.rights" content="All rights reserved">'
            '<meta name="dcterms.license" content="https://creativecommons.org/licenses/by/4.0/">'
            '<meta name="DCTERMS.accessRights" content="open">'
            '<meta name="dc.title" content="not a licence">'
            '<link rel="DCTERMS.license" href="https://x/l">'
        )
    )
    assert h.dc_licences == (
        ("DC.rights", "All rights reserved"),
        ("dcterms.license", "https://creativecommons.org/licenses/by/4.0/"),
        ("DCTERMS.accessRights", "open"),
        ("DCTERMS.license", "https://x/l"),
    )


def test_content_signal_and_content_usage_meta():
    h = parse_html_head(
        page(
            '<meta name="content-signal" content="ai-train=no">'
            '<meta name="Content-Usage" content="train-ai=n">'
        )
    )
    assert h.content_signal == "ai-train=no"
    assert h.content_usage is not None and h.content_usage.get("train-ai") == "n"
    assert parse_html_head(page("")).content_usage is None


def test_truncation_cap():
    body = page('<meta name="robots" content="noai">', "x" * (HEAD_MAX_BYTES + 10))
    h = parse_html_head(body)
    assert h.truncated and h.robots.all == {"noai"}
    h = parse_html_head(
        b"<head>" + b" " * 100 + b'<meta name="robots" content="noai">', max_bytes=50
    )
    assert h.truncated and h.robots.all == frozenset()


def test_encodings_and_junk():
    assert parse_html_head(None).ok is False
    assert parse_html_head(b"").ok
    h = parse_html_head(
        b'<meta charset="iso-8859-1"><meta name="robots" content="noai"><title>\xe9</title>'
    )
    assert h.robots.all == {"noai"}
    assert parse_html_head(b"\xff\xfe\x00\x01<meta name=robots content=noai>").ok
    assert parse_html_head("\x00<meta name=robots content='no\x00ai'>").ok
    assert parse_html_head(12).ok is False  # type: ignore[arg-type]


def test_headless_document():
    h = parse_html_head(b'<meta name="robots" content="noai">')
    assert h.robots.all == {"noai"}  # the parser synthesises the head


def test_hostile_deep_nesting_is_cut_fast():
    import time

    t = time.monotonic()
    h = parse_html_head(
        b'<head><meta name="robots" content="noai"></head><body>' + b"<div>" * 100_000
    )
    assert time.monotonic() - t < 5
    assert h.truncated and h.robots.all == {"noai"}
    assert any("nested deeper" in p for p in h.problems)


def test_normal_nesting_not_cut():
    h = parse_html_head(page("", "<div>" * 300 + "</div>" * 300 + "<p>x" * 5000))
    assert not h.truncated
