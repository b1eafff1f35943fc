"""Spawning ai.txt: every edge case of its robots.txt-like syntax."""

from __future__ import annotations

import pytest

from tdmscan.signals.aitxt import AiTxt, parse_ai_txt
from tdmscan.signals.robots import RobotsMatch, RobotsRule

SPAWNING = """\
# Spawning AI
# Prevent datasets from using the following file types

User-agent: *
Disallow: *.jpg
Disallow: *.png
Allow: *.html
Disallow: /
"""


def test_generated_file_is_recognised() -> None:
    a = parse_ai_txt(SPAWNING)
    assert isinstance(a, AiTxt)
    assert a.recognised is True
    assert a.problems == ()
    assert len(a.sha256) == 64


def test_6_4_1_extension_glob_is_case_sensitive() -> None:
    a = parse_ai_txt(SPAWNING)
    m = a.match("img2dataset", "/img/photo.JPG")
    # Not matched by "*.jpg": only "Disallow: /" applies.
    assert m == RobotsMatch(False, RobotsRule("disallow", "/", 8), ("*",), 4)
    assert a.match("x", "/img/photo.jpg").rule == RobotsRule("disallow", "*.jpg", 5)


@pytest.mark.parametrize("path", ["/a.jpg?w=200", "/a.jpgx", "/dir/a.jpg"])
def test_6_4_1_extension_glob_matches_anywhere_without_dollar(path: str) -> None:
    m = parse_ai_txt("User-agent: *\nDisallow: *.jpg\n").match("x", path)
    assert not m.allowed and m.rule == RobotsRule("disallow", "*.jpg", 2)


def test_6_4_2_longest_match_html_allowed_over_root_disallow() -> None:
    m = parse_ai_txt(SPAWNING).match("x", "/blog/post.html")
    assert m.allowed and m.rule == RobotsRule("allow", "*.html", 7)
    assert not parse_ai_txt(SPAWNING).match("x", "/blog/post").allowed


def test_6_4_2_star_ties_root_allow_and_allow_wins() -> None:
    a = parse_ai_txt("User-agent: *\nDisallow: *\nAllow: /\n")
    m = a.match("x", "/anything")
    assert m.allowed and m.rule == RobotsRule("allow", "/", 3)


def test_block_everything_form() -> None:
    a = parse_ai_txt("User-agent: *\nDisallow: *\nDisallow: /\n")
    assert not a.match("x", "/a.txt").allowed


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><head><title>App</title></head><body></body></html>",
        b"<html>\nUser-agent: *\nDisallow: /\n</html>",
    ],
)
def test_6_4_3_html_body_is_unrecognised_not_allowed(body: bytes) -> None:
    a = parse_ai_txt(body)
    assert a.recognised is False
    assert "html-body" in a.problems
    assert "unrecognised-format" in a.problems
    # match() has no rules to apply; the caller must read recognised=False as "no signal".
    assert a.match("x", "/a.jpg") == RobotsMatch(True, None, (), None)


def test_unrelated_markdown_ai_txt_is_unrecognised() -> None:
    a = parse_ai_txt("# AI context\n\nThis site is about cooking.\n- Use metric units\n")
    assert a.recognised is False
    assert a.problems[-1] == "unrecognised-format"


def test_absent_file() -> None:
    a = parse_ai_txt(None)
    assert a.recognised is False and "unrecognised-format" in a.problems


def test_folder_without_leading_slash_is_read_from_the_root() -> None:
    a = parse_ai_txt("User-agent: *\nDisallow: images/\n")
    assert not a.match("x", "/images/a.gif").allowed
    assert a.match("x", "/other/images/a.gif").allowed


def test_named_ai_agent_group_selected() -> None:
    a = parse_ai_txt("User-agent: *\nAllow: /\n\nUser-agent: GPTBot\nDisallow: /\n")
    assert not a.match("GPTBot/1.0", "/x").allowed
    assert a.match("CCBot", "/x").allowed
    assert a.named_agents == frozenset({"gptbot"})


def test_ai_txt_has_no_implicit_robots_txt_allow() -> None:
    assert not parse_ai_txt("User-agent: *\nDisallow: /\n").match("x", "/robots.txt").allowed
