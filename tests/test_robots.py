"""robots.txt parser: every edge case of RFC 9309 and of the aipref and Content Signal lines.

Status-code handling (RFC 9309 section 2.3.1, apart from the HTML body) belongs to the fetch and
policy layers and is tested there; this file covers what the bytes alone decide.
"""

from __future__ import annotations

import dataclasses

import pytest

from tdmscan.signals.robots import (
    ROBOTS_PARSE_LIMIT,
    ExtensionRecord,
    RobotsMatch,
    RobotsRule,
    RobotsTxt,
    parse_robots,
)
from tdmscan.urls import normalise_path


def allowed(text: str | bytes, agent: str, path: str) -> bool:
    return parse_robots(text).match(agent, path).allowed


# --------------------------------------------------------------------------- API shape


def test_match_returns_the_deciding_rule_and_group() -> None:
    r = parse_robots("# c\nUser-agent: GPTBot\nUser-agent: CCBot\nDisallow: /private/\n")
    m = r.match("GPTBot", "/private/x")
    assert m == RobotsMatch(
        allowed=False,
        rule=RobotsRule("disallow", "/private/", 4),
        group_agents=("gptbot", "ccbot"),
        group_line=2,
    )
    assert r.match("GPTBot", "/public") == RobotsMatch(True, None, ("gptbot", "ccbot"), 2)
    assert r.match("Other", "/private/x") == RobotsMatch(True, None, (), None)


def test_star_group_reported_as_star() -> None:
    m = parse_robots("User-agent: *\nDisallow: /x\n").match("GPTBot", "/x")
    assert m.group_agents == ("*",) and m.group_line == 1 and not m.allowed


def test_metadata_fields() -> None:
    body = b"User-agent: *\nDisallow: /\nSitemap: https://e.com/s.xml\n"
    r = parse_robots(body)
    import hashlib

    assert r.sha256 == hashlib.sha256(body).hexdigest()
    assert r.size == len(body)
    assert r.truncated is False
    assert r.recognised is True
    assert r.sitemaps == ("https://e.com/s.xml",)
    assert r.named_agents == frozenset()
    assert r.problems == ()


def test_named_agents_are_lower_case_tokens() -> None:
    r = parse_robots("User-agent: GPTBot\nUser-agent: CCBot/2.0\nUser-agent: *\nDisallow: /\n")
    assert r.named_agents == frozenset({"gptbot", "ccbot"})


def test_rule_pattern_keeps_text_as_written_without_comment() -> None:
    m = parse_robots("User-agent: *\nDisallow: /a%7E b  # why\n").match("x", "/a~%20b")
    assert m.rule == RobotsRule("disallow", "/a%7E b", 2)


def test_dataclasses_are_frozen() -> None:
    rule = RobotsRule("allow", "/", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.line = 2  # type: ignore[misc]
    rec = ExtensionRecord("license", "u", 1, ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.value = "v"  # type: ignore[misc]


@pytest.mark.parametrize("data", [None, b"", "", "   \n\n"])
def test_empty_inputs_allow_everything_and_are_not_recognised(data: bytes | str | None) -> None:
    r = parse_robots(data)
    assert r.recognised is False
    assert r.match("GPTBot", "/") == RobotsMatch(True, None, (), None)


def test_str_and_bytes_parse_alike() -> None:
    text = "User-agent: *\nDisallow: /ツ\n"
    a, b = parse_robots(text), parse_robots(text.encode())
    assert a.sha256 == b.sha256
    assert a.match("x", "/%E3%83%84") == b.match("x", "/%E3%83%84")


# --------------------------------------------------------------------------- 1.2 location


def test_robots_txt_itself_is_always_allowed() -> None:
    r = parse_robots("User-agent: *\nDisallow: /\n")
    assert r.match("GPTBot", "/robots.txt").allowed
    assert r.match("GPTBot", "/robots.txt?x=1").allowed
    assert not r.match("GPTBot", "/robots.txt.bak").allowed
    assert not r.match("GPTBot", "/ROBOTS.TXT").allowed


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html>\n<html><body>\nUser-agent: *\nDisallow: /\n</body></html>",
        b"\n  <html lang=en>\nUser-agent: *\nDisallow: /\n",
        b"<!-- cms -->\n<html>\nUser-agent: *\nDisallow: /\n",
        b"\xef\xbb\xbf<head><title>404</title></head>\nDisallow: /\n",
    ],
)
def test_html_body_has_no_rules(body: bytes) -> None:
    r = parse_robots(body)
    assert "html-body" in r.problems
    assert r.recognised is False
    assert r.match("GPTBot", "/") == RobotsMatch(True, None, (), None)


def test_angle_bracket_in_a_real_file_is_not_html() -> None:
    r = parse_robots("User-agent: *\nDisallow: /<script>\n")
    assert "html-body" not in r.problems
    assert not r.match("x", "/%3Cscript%3E").allowed


# --------------------------------------------------------------------------- 1.3 syntax


@pytest.mark.parametrize(
    "body",
    [
        "user-agent: *\ndisallow: /x\n",
        "USER-AGENT: *\nDISALLOW: /x\n",
        "User-Agent:*\nDisallow:/x\n",
        "  User-agent :   *  \n\tDisallow  :  /x   \n",
    ],
)
def test_keys_case_insensitive_and_whitespace_optional(body: str) -> None:
    assert not allowed(body, "bot", "/x/y")
    assert allowed(body, "bot", "/y")


def test_group_ends_at_user_agent_after_a_rule() -> None:
    body = "User-agent: a\nDisallow: /a\nUser-agent: b\nDisallow: /b\n"
    assert not allowed(body, "a", "/a") and allowed(body, "a", "/b")
    assert not allowed(body, "b", "/b") and allowed(body, "b", "/a")


def test_consecutive_user_agents_share_a_group() -> None:
    body = "User-agent: a\n\nUser-agent: b\n# comment\nDisallow: /x\n"
    assert not allowed(body, "a", "/x") and not allowed(body, "b", "/x")


@pytest.mark.parametrize(
    "line",
    [
        "Sitemap: https://e.com/s.xml",
        "Crawl-delay: 5",
        "Content-Usage: train-ai=n",
        "Content-Signal: ai-train=no",
        "License: https://e.com/rsl.xml",
        "Foo: bar",
        "Host: e.com",
    ],
)
def test_other_records_do_not_end_a_group(line: str) -> None:
    body = f"User-agent: a\n{line}\nUser-agent: b\nDisallow: /\n"
    assert not allowed(body, "a", "/x")
    assert not allowed(body, "b", "/x")


def test_empty_rule_lines_still_close_a_group() -> None:
    body = "User-agent: a\nDisallow:\nUser-agent: b\nDisallow: /\n"
    assert allowed(body, "a", "/x")
    assert not allowed(body, "b", "/x")


def test_last_group_without_rules_allows_everything() -> None:
    assert allowed("User-agent: *\nDisallow: /\nUser-agent: quxbot\n", "quxbot", "/x")


def test_rules_before_first_user_agent_are_ignored_and_recorded() -> None:
    r = parse_robots("Disallow: /\nAllow: /x\nUser-agent: *\nDisallow: /private\n")
    assert r.match("bot", "/a").allowed
    assert not r.match("bot", "/private").allowed
    assert "line 1: rule outside any group" in r.problems
    assert "line 2: rule outside any group" in r.problems
    # Only rules outside groups: the file still says something recognisable.
    assert parse_robots("Disallow: /\n").recognised is True


# --------------------------------------------------------------------------- 1.4 selection


def test_user_agent_matching_is_case_insensitive() -> None:
    assert not allowed("User-agent: GPTBOT\nDisallow: /\n", "gptbot", "/")
    assert not allowed("User-agent: gptbot\nDisallow: /\n", "GPTBot", "/")


@pytest.mark.parametrize(
    ("group", "agent"),
    [
        ("Google", "Google-Extended"),
        ("ChatGPT", "ChatGPT-User"),
        ("Google-Extended", "Google"),
        ("Claude", "ClaudeBot"),
        ("anthropic", "anthropic-ai"),
    ],
)
def test_no_prefix_matching_of_agents(group: str, agent: str) -> None:
    body = f"User-agent: {group}\nDisallow: /\n"
    assert allowed(body, agent, "/x")
    assert not allowed(body, group, "/x")


def test_user_agent_value_cut_at_first_non_token_character() -> None:
    body = "User-agent: CCBot/2.0\nDisallow: /a\nUser-agent: Foo Bar\nDisallow: /b\n"
    assert not allowed(body, "CCBot", "/a")
    assert not allowed(body, "foo", "/b")
    assert allowed(body, "bar", "/b")
    assert parse_robots(body).named_agents == frozenset({"ccbot", "foo"})


def test_caller_agent_is_normalised_to_its_product_token() -> None:
    body = "User-agent: CCBot\nDisallow: /\n"
    assert not allowed(body, "CCBot/2.0", "/x")
    assert not allowed(body, "ccbot/2.0 (+https://commoncrawl.org/faq/)", "/x")


def test_star_with_trailing_text_is_still_global_but_star_prefix_is_not() -> None:
    assert not allowed("User-agent: * everyone\nDisallow: /\n", "bot", "/x")
    r = parse_robots("User-agent: *bot\nDisallow: /\n")
    assert r.match("bot", "/x").allowed
    assert any("no product token" in p for p in r.problems)


def test_matching_groups_are_merged() -> None:
    body = (
        "User-agent: a\nDisallow: /x\n\nUser-agent: b\nDisallow: /\n\nUser-agent: a\nDisallow: /y\n"
    )
    r = parse_robots(body)
    assert not r.match("a", "/x").allowed and not r.match("a", "/y").allowed
    assert r.match("a", "/z").allowed
    assert r.match("a", "/z").group_line == 1


def test_star_groups_are_merged() -> None:
    body = "User-agent: *\nDisallow: /x\nUser-agent: a\nDisallow: /\nUser-agent: *\nDisallow: /y\n"
    assert not allowed(body, "b", "/x") and not allowed(body, "b", "/y")
    assert allowed(body, "b", "/z")


def test_specific_group_replaces_star_entirely() -> None:
    body = "User-agent: FooBot\nDisallow: /y/\n\nUser-agent: *\nDisallow: /x/\n"
    assert allowed(body, "FooBot", "/x/page")
    assert not allowed(body, "FooBot", "/y/page")
    assert not allowed(body, "Other", "/x/page")


def test_no_group_for_agent_and_no_star_allows_everything() -> None:
    m = parse_robots("User-agent: a\nDisallow: /\n").match("b", "/x")
    assert m == RobotsMatch(True, None, (), None)


# --------------------------------------------------------------------------- 1.5 matching


def test_matching_covers_path_and_query_case_sensitively() -> None:
    body = "User-agent: *\nDisallow: /search?q=\nDisallow: /Private\n"
    assert not allowed(body, "x", "/search?q=cats")
    assert allowed(body, "x", "/search")
    assert allowed(body, "x", "/private")
    assert not allowed(body, "x", "/Private/a")


def test_star_matches_any_run_including_slashes() -> None:
    body = "User-agent: *\nDisallow: /*/secret\n"
    assert not allowed(body, "x", "/a/b/c/secret")
    assert not allowed(body, "x", "//secret")
    assert allowed(body, "x", "/secret")


def test_dollar_anchors_only_at_the_end() -> None:
    body = "User-agent: *\nDisallow: /*.pdf$\nDisallow: /a$b\n"
    assert not allowed(body, "x", "/doc.pdf")
    assert allowed(body, "x", "/doc.pdf?x=1")
    assert allowed(body, "x", "/doc.pdfx")
    assert not allowed(body, "x", "/a$b")  # a mid-pattern "$" is literal
    assert not allowed(body, "x", "/a$bc")
    assert allowed(body, "x", "/ab")


def test_hash_starts_a_comment() -> None:
    assert allowed("User-agent: *\nDisallow: /a#/\n", "x", "/b")
    assert not allowed("User-agent: *\nDisallow: /a#/\n", "x", "/a")


def test_longest_match_wins_counting_wildcards() -> None:
    body = "User-agent: *\nAllow: /page\nDisallow: /*.html\n"
    m = parse_robots(body).match("x", "/page.html")
    assert not m.allowed and m.rule == RobotsRule("disallow", "/*.html", 3)
    assert allowed(body, "x", "/page")


def test_tie_goes_to_allow() -> None:
    body = "User-agent: *\nDisallow: /folder\nAllow: /folder\n"
    m = parse_robots(body).match("x", "/folder/a")
    assert m.allowed and m.rule == RobotsRule("allow", "/folder", 3)
    body = "User-agent: *\nDisallow: /$\nAllow: /*\n"
    assert allowed(body, "x", "/")


def test_equal_rules_report_the_first_line() -> None:
    body = "User-agent: *\nDisallow: /a\nDisallow: /a\n"
    assert parse_robots(body).match("x", "/a").rule == RobotsRule("disallow", "/a", 2)


def test_empty_disallow_matches_nothing() -> None:
    m = parse_robots("User-agent: *\nDisallow:\n").match("x", "/anything")
    assert m.allowed and m.rule is None and m.group_agents == ("*",)


def test_empty_allow_does_not_beat_a_disallow() -> None:
    assert not allowed("User-agent: *\nAllow:\nDisallow: /\n", "x", "/a")


def test_pattern_without_leading_slash_matches_nothing() -> None:
    # Google compares it literally, and a path always starts with "/".
    assert allowed("User-agent: *\nDisallow: private\n", "x", "/private")
    assert not allowed("User-agent: *\nDisallow: *private\n", "x", "/private")


def test_many_wildcards_do_not_backtrack_catastrophically() -> None:
    r = parse_robots("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*b$\n")
    assert r.match("x", "/" + "a" * 5000).allowed
    assert not r.match("x", "/" + "a" * 5000 + "b").allowed


def test_index_html_allows_its_directory() -> None:
    body = "User-agent: *\nDisallow: /\nAllow: /d/index.html\n"
    assert allowed(body, "x", "/d/")
    assert allowed(body, "x", "/d/index.html")
    assert not allowed(body, "x", "/d/other")
    assert not allowed(body, "x", "/d/?q")


def test_many_literal_rules_of_one_length() -> None:
    rules = "".join(f"Allow: /{i:08d}.html\n" for i in range(5000))
    r = parse_robots("User-agent: *\nDisallow: /\n" + rules)
    assert r.match("x", "/00004999.html").allowed
    assert r.match("x", "/00004999.html").rule == RobotsRule("allow", "/00004999.html", 5002)
    assert not r.match("x", "/00005000.html").allowed


# --------------------------------------------------------------------------- 1.6 encoding


def test_non_ascii_pattern_matches_percent_encoded_url() -> None:
    body = "User-agent: *\nDisallow: /ツ\n"
    assert not allowed(body, "x", "/%E3%83%84")
    assert not allowed(body, "x", normalise_path("/ツ/a"))


def test_escape_hex_case_is_irrelevant() -> None:
    assert not allowed("User-agent: *\nDisallow: /a%2fb\n", "x", "/a%2Fb")
    assert not allowed("User-agent: *\nDisallow: /a%2Fb\n", "x", "/a%2fb")


def test_unreserved_escapes_are_decoded_rfc_behaviour() -> None:
    # RFC 9309 figure 4; Google upstream keeps the escape (docs/robots-deviations.md).
    body = "User-agent: *\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n"
    assert allowed(body, "x", "/foo/bar/baz")
    assert allowed(body, "x", normalise_path("/foo/bar/%62%61%7A"))


def test_reserved_escapes_stay_distinct() -> None:
    body = "User-agent: *\nDisallow: /a%2Fb\n"
    assert allowed(body, "x", "/a/b")


def test_percent_2a_and_24_match_literal_star_and_dollar() -> None:
    body = "User-agent: *\nDisallow: /a%2A\nDisallow: /b%24\n"
    assert not allowed(body, "x", "/a*")
    assert not allowed(body, "x", "/a%2A")
    assert not allowed(body, "x", "/b$")
    assert allowed(body, "x", "/aa")


def test_characters_illegal_in_uris_match_raw_or_escaped() -> None:
    body = "User-agent: *\nDisallow: /b/*?*|\n"
    assert not allowed(body, "x", "/b/x?y=1%7C2")
    assert not allowed(body, "x", "/b/x?y=1|2")


def test_match_normalises_a_raw_path() -> None:
    assert not allowed("User-agent: *\nDisallow: /ツ\n", "x", "/ツ")
    assert not allowed("User-agent: *\nDisallow: /~u\n", "x", "/%7Eu")


# --------------------------------------------------------------------------- 1.8 limits


def test_parse_limit_truncates_and_records() -> None:
    head = b"User-agent: *\nDisallow: /early\n"
    filler = b"# " + b"x" * 998 + b"\n"
    body = head + filler * (ROBOTS_PARSE_LIMIT // len(filler) + 1) + b"Disallow: /late\n"
    r = parse_robots(body)
    assert r.truncated is True
    assert r.size == len(body)
    assert any(p.startswith("truncated") for p in r.problems)
    assert not r.match("x", "/early").allowed
    assert r.match("x", "/late").allowed


def test_rule_cut_by_the_limit_is_dropped_not_shortened() -> None:
    prefix = b"User-agent: *\n# " + b"x" * (ROBOTS_PARSE_LIMIT - 40) + b"\n"
    body = prefix + b"Disallow: /private-area-with-long-name\n"
    assert len(prefix) < ROBOTS_PARSE_LIMIT < len(body)
    r = parse_robots(body)
    assert r.truncated
    assert r.match("x", "/p").allowed


def test_file_exactly_at_limit_is_not_truncated() -> None:
    body = b"User-agent: *\nDisallow: /x\n"
    body += b"#" * (ROBOTS_PARSE_LIMIT - len(body))
    assert parse_robots(body).truncated is False


def test_overlong_line_is_cut_like_google() -> None:
    r = parse_robots("User-agent: *\nDisallow: /" + "a" * 20000 + "\n")
    assert any("longer than" in p for p in r.problems)
    # Google keeps 16663 bytes of the line: "Disallow: /" plus 16652 "a".
    assert not r.match("x", "/" + "a" * 16652).allowed
    assert r.match("x", "/" + "a" * 16651).allowed


def test_leading_bom_is_skipped() -> None:
    r = parse_robots(b"\xef\xbb\xbfUser-agent: *\nDisallow: /\n")
    assert "bom" in r.problems
    assert not r.match("x", "/a").allowed


def test_partial_bom_is_skipped_like_google() -> None:
    r = parse_robots(b"\xef\xbbUser-agent: *\nDisallow: /\n")
    assert "broken-bom" in r.problems
    assert not r.match("x", "/a").allowed


def test_broken_bom_corrupts_the_first_line() -> None:
    # Only the matching BOM bytes go: "AUser-agent" is no user-agent line.
    r = parse_robots(b"\xef\x41User-agent: *\nDisallow: /\n")
    assert r.match("x", "/a").allowed


def test_bom_elsewhere_corrupts_its_line() -> None:
    body = b"User-agent: *\n\xef\xbb\xbfDisallow: /a\nDisallow: /b\n"
    r = parse_robots(body)
    assert r.match("x", "/a").allowed
    assert not r.match("x", "/b").allowed
    assert "bom" not in r.problems
    assert any(p.startswith("line 2: unknown directive") for p in r.problems)


@pytest.mark.parametrize("nl", ["\n", "\r", "\r\n"])
def test_line_endings(nl: str) -> None:
    body = nl.join(["User-agent: a", "Disallow: /a", "", "User-agent: b", "Disallow: /b"])
    r = parse_robots(body)
    assert not r.match("a", "/a").allowed and r.match("a", "/b").allowed
    assert r.match("b", "/b").rule == RobotsRule("disallow", "/b", 5)


def test_mixed_line_endings_count_lines_like_google() -> None:
    r = parse_robots("User-agent: *\r\r\nDisallow: /a\n\rDisallow: /b")
    assert r.match("x", "/a").rule == RobotsRule("disallow", "/a", 3)
    assert r.match("x", "/b").rule == RobotsRule("disallow", "/b", 5)


def test_invalid_utf8_is_kept_as_its_bytes() -> None:
    r = parse_robots(b"User-agent: *\nDisallow: /caf\xe9\n")
    assert not r.match("x", "/caf%E9").allowed
    assert r.match("x", "/caf%C3%A9").allowed


def test_problem_list_is_bounded() -> None:
    r = parse_robots("garbage\n" * 10000)
    assert len(r.problems) <= 201
    assert r.recognised is False


# --------------------------------------------------------------------------- 1.9 typos etc.


@pytest.mark.parametrize(
    ("ua_key", "dis_key"),
    [
        ("useragent", "dissallow"),
        ("user agent", "dissalow"),
        ("User-agent", "disalow"),
        ("User-agent", "diasllow"),
        ("User-agent", "disallaw"),
    ],
)
def test_google_typos_accepted_and_recorded(ua_key: str, dis_key: str) -> None:
    r = parse_robots(f"{ua_key}: bot\n{dis_key}: /x\n")
    assert not r.match("bot", "/x").allowed
    assert f"line 2: typo {dis_key!r} accepted" in r.problems
    if ua_key != "User-agent":
        assert f"line 1: typo {ua_key!r} accepted" in r.problems


def test_allow_typos_are_not_accepted() -> None:
    r = parse_robots("User-agent: *\nDisallow: /\nAlow: /x\n")
    assert not r.match("x", "/x").allowed
    assert "line 3: unknown directive 'alow'" in r.problems


def test_missing_colon_accepted_with_exactly_two_words() -> None:
    r = parse_robots("User-agent *\nDisallow /x\nDisallow /y z\n")
    assert not r.match("bot", "/x").allowed
    assert r.match("bot", "/y").allowed
    assert "line 2: missing colon accepted" in r.problems
    assert "line 3: unparsable line" in r.problems


def test_unknown_directive_recorded() -> None:
    r = parse_robots("User-agent: *\nfoo: bar\nDisallow: /\n")
    assert "line 2: unknown directive 'foo'" in r.problems
    assert r.group_records("x", "foo") == (ExtensionRecord("foo", "bar", 2, ("*",)),)


def test_sitemaps_are_global_wherever_they_sit() -> None:
    r = parse_robots("Sitemap: https://e.com/1.xml\nUser-agent: a\nSitemap: https://e.com/2.xml\n")
    assert r.sitemaps == ("https://e.com/1.xml", "https://e.com/2.xml")
    assert [rec.line for rec in r.global_records("sitemap")] == [1, 3]
    assert r.group_records("a", "sitemap") == ()


def test_yandex_and_legacy_records_kept_for_evidence() -> None:
    r = parse_robots("User-agent: *\nHost: e.com\nClean-param: ref /a\nNoindex: /x\n")
    assert r.group_records("x", "host")[0].value == "e.com"
    assert r.group_records("x", "clean-param")[0].value == "ref /a"
    assert r.group_records("x", "noindex")[0].value == "/x"
    assert r.match("x", "/x").allowed  # Noindex is not a disallow


def test_crawl_delay_per_group() -> None:
    r = parse_robots(
        "User-agent: *\nCrawl-delay: 10\nAllow: /\n\n"
        "User-agent: slow\nCrawl-delay: x\nCrawl-delay: 2.5\n"
    )
    assert r.crawl_delay("anything") == 10.0
    assert r.crawl_delay("slow") == 2.5
    # Without a rule in between, the two user-agent lines are one group (as Google reads them).
    merged = parse_robots("User-agent: *\nCrawl-delay: 10\n\nUser-agent: slow\nCrawl-delay: 1\n")
    assert merged.crawl_delay("slow") == 10.0
    assert parse_robots("User-agent: a\nCrawl-delay: 5\n").crawl_delay("b") is None


# --------------------------------------------------------------------------- 1.11 conformance


def test_1_11_1_unknown_line_between_user_agents_merges_them() -> None:
    r = parse_robots(
        "User-agent: *\nContent-Signal: ai-train=no\nUser-agent: GPTBot\nDisallow: /\n"
    )
    assert not r.match("GPTBot", "/").allowed
    assert not r.match("SomeOtherBot", "/").allowed  # "*" is disallowed too
    (rec,) = r.group_records("SomeOtherBot", "content-signal")
    assert rec == ExtensionRecord("content-signal", "ai-train=no", 2, ("*", "gptbot"))


def test_1_11_2_empty_specific_group_at_eof() -> None:
    assert allowed("User-agent: *\nDisallow: /\n\nUser-agent: quxbot\n", "quxbot", "/x")
    body = "User-agent: FooBot\nDisallow: /y/\nUser-agent: *\nDisallow: /x/\n"
    assert allowed(body, "FooBot", "/x/page")


def test_1_11_3_html_percent_and_mid_dollar() -> None:
    assert "html-body" in parse_robots(b"<html><body>Not found</body></html>").problems
    assert allowed("User-agent: *\nDisallow: /\nAllow: /foo/bar/%62%61%7A\n", "x", "/foo/bar/baz")
    assert not allowed("User-agent: *\nDisallow: /a$b\n", "x", "/a$b")


# --------------------------------------------------------------------------- 3.3 / 3.5


AIPREF_EXAMPLE = """\
User-Agent: *
Allow: /
Disallow: /private/
Content-Usage: train-ai=n
Content-Usage: /datasets/open/ train-ai=y

User-Agent: ResearchBot
Allow: /
Content-Usage: train-ai=y
"""


def _prefs(r: RobotsTxt, agent: str, path: str) -> list[str]:
    return [rec.value for rec in r.content_usage(agent, path)]


def test_3_3_example() -> None:
    r = parse_robots(AIPREF_EXAMPLE)
    assert _prefs(r, "GPTBot", "/blog/x") == ["train-ai=n"]
    assert _prefs(r, "GPTBot", "/datasets/open/a.csv") == ["train-ai=y"]
    assert r.content_usage("GPTBot", "/private/x") == ()
    assert _prefs(r, "ResearchBot", "/private/x") == ["train-ai=y"]
    assert _prefs(r, "ResearchBot", "/blog") == ["train-ai=y"]


def test_3_3_content_usage_record_fields() -> None:
    r = parse_robots(AIPREF_EXAMPLE)
    (rec,) = r.content_usage("GPTBot", "/datasets/open/a.csv")
    assert rec == ExtensionRecord("content-usage", "train-ai=y", 5, ("*",), "/datasets/open/")
    assert r.content_usage("GPTBot", "/x")[0].path is None


def test_3_5_2_identical_paths_are_all_returned_for_combination() -> None:
    r = parse_robots(
        "User-agent: *\nContent-Usage: /a/ train-ai=n\nContent-Usage: /a/ train-ai=y\n"
    )
    assert _prefs(r, "bot", "/a/x") == ["train-ai=n", "train-ai=y"]
    assert r.content_usage("bot", "/b") == ()


def test_3_5_2_longest_path_wins() -> None:
    r = parse_robots("User-agent: *\nContent-Usage: train-ai=n\nContent-Usage: /a/b/ train-ai=y\n")
    assert _prefs(r, "bot", "/a/b/c") == ["train-ai=y"]
    assert _prefs(r, "bot", "/a/x") == ["train-ai=n"]


def test_3_5_2_disallowed_path_has_no_preference() -> None:
    r = parse_robots("User-agent: *\nDisallow: /a/\nContent-Usage: train-ai=y\n")
    assert r.content_usage("bot", "/a/x") == ()
    assert _prefs(r, "bot", "/b") == ["train-ai=y"]


def test_3_5_3_content_usage_before_any_group_is_global_only() -> None:
    r = parse_robots("Content-Usage: train-ai=n\nUser-agent: *\nAllow: /\n")
    assert r.content_usage("bot", "/x") == ()
    assert r.global_records("content-usage") == (
        ExtensionRecord("content-usage", "train-ai=n", 1, ()),
    )
    assert "line 1: content-usage outside any group" in r.problems


def test_content_usage_path_patterns_use_robots_wildcards() -> None:
    r = parse_robots("User-agent: *\nContent-Usage: /*.pdf$ train-ai=n\nContent-Usage: search=y\n")
    assert _prefs(r, "bot", "/doc.pdf") == ["train-ai=n"]
    assert _prefs(r, "bot", "/doc.pdf?x") == ["search=y"]


def test_content_usage_order_of_lines_is_irrelevant() -> None:
    a = parse_robots("User-agent: *\nContent-Usage: /a/ train-ai=y\nContent-Usage: train-ai=n\n")
    assert _prefs(a, "bot", "/a/1") == ["train-ai=y"]
    assert _prefs(a, "bot", "/b") == ["train-ai=n"]


def test_content_usage_path_without_preference_is_recorded() -> None:
    r = parse_robots("User-agent: *\nContent-Usage: /a/\n")
    assert r.group_records("x", "content-usage")[0] == ExtensionRecord(
        "content-usage", "", 2, ("*",), "/a/"
    )
    assert "line 2: content-usage path without a preference" in r.problems


def test_content_usage_selects_the_specific_group() -> None:
    r = parse_robots(
        "User-agent: *\nContent-Usage: train-ai=n\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /x\n"
    )
    assert r.content_usage("GPTBot", "/a") == ()  # its own group says nothing
    assert _prefs(r, "CCBot", "/a") == ["train-ai=n"]


# --------------------------------------------------------------------------- 4.3


def test_4_3_1_compact_and_case_variants_kept_verbatim() -> None:
    r = parse_robots("User-agent: *\nContent-signal: search=yes,ai-train=no,use=reference\n")
    (rec,) = r.group_records("bot", "Content-Signal")
    assert rec.key == "content-signal"
    assert rec.value == "search=yes,ai-train=no,use=reference"


def test_4_3_2_content_signal_before_first_group_is_global() -> None:
    r = parse_robots("Content-Signal: ai-train=no\nUser-agent: *\nAllow: /\n")
    assert r.group_records("bot", "content-signal") == ()
    assert r.global_records("content-signal") == (
        ExtensionRecord("content-signal", "ai-train=no", 1, ()),
    )
    assert "line 1: content-signal outside any group" in r.problems


def test_4_3_2_content_signal_between_user_agents_joins_both() -> None:
    r = parse_robots("User-agent: a\nContent-Signal: ai-train=no\nUser-agent: b\nAllow: /\n")
    assert r.group_records("a", "content-signal") == r.group_records("b", "content-signal")
    assert r.group_records("a", "content-signal")[0].group_agents == ("a", "b")


def test_4_3_3_star_signal_does_not_reach_an_agent_with_its_own_group() -> None:
    r = parse_robots(
        "User-agent: *\nContent-Signal: ai-train=no\nAllow: /\n\nUser-agent: GPTBot\nAllow: /\n"
    )
    assert r.group_records("GPTBot", "content-signal") == ()
    assert len(r.group_records("CCBot", "content-signal")) == 1


def test_content_signal_after_rules_stays_in_the_group() -> None:
    r = parse_robots("User-agent: GPTBot\nDisallow: /\nContent-Signal: ai-train=no\n")
    assert r.group_records("GPTBot", "content-signal")[0].group_agents == ("gptbot",)
    assert r.group_records("CCBot", "content-signal") == ()


# --------------------------------------------------------------------------- 5.5-1


def test_5_5_1_license_in_group_beats_global() -> None:
    r = parse_robots(
        "License: https://e.com/global.xml\n"
        "User-agent: GPTBot\nLicense: https://e.com/gpt.xml\nDisallow: /x\n"
        "User-agent: *\nAllow: /\n"
    )
    assert [rec.value for rec in r.licenses("GPTBot")] == ["https://e.com/gpt.xml"]
    assert [rec.value for rec in r.licenses("OurBot")] == ["https://e.com/global.xml"]
    assert r.licenses("GPTBot")[0].group_agents == ("gptbot",)
    assert r.global_records("license")[0].group_agents == ()


def test_license_never_changes_allow_disallow() -> None:
    body = "User-agent: *\nLicense: https://e.com/l.xml\nDisallow: /x\n"
    assert allowed(body, "bot", "/a") and not allowed(body, "bot", "/x")


def test_several_licenses_are_all_kept() -> None:
    r = parse_robots("License: https://a/1.xml\nLicense: https://b/2.xml\n")
    assert [rec.value for rec in r.licenses("x")] == ["https://a/1.xml", "https://b/2.xml"]


def test_line_ending_right_at_the_limit_is_kept() -> None:
    rule = b"Disallow: /kept\n"
    head = b"User-agent: *\n"
    filler = b"#" * (ROBOTS_PARSE_LIMIT - len(head) - len(rule)) + b"\n"
    body = head + filler + rule + b"Disallow: /dropped\n"
    assert len(head + filler + rule) == ROBOTS_PARSE_LIMIT + 1  # only the "\n" is beyond
    r = parse_robots(body)
    assert r.truncated
    assert not r.match("x", "/kept").allowed
    assert r.match("x", "/dropped").allowed
