"""Markdown to safe HTML: the features admins use, placeholders, and hostile input."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk.help.rendering import ALLOWED_TAGS, render_markdown


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.tags


def scheme_of(url: str) -> str:
    """The scheme a browser would see: tabs and newlines removed, leading controls stripped."""
    url = re.sub(r"[\t\n\r]", "", url).lstrip("".join(map(chr, range(33))))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


def assert_harmless(html: str) -> None:
    assert "<script" not in html.lower()
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                assert scheme_of(value or "") in ("", "http", "https", "mailto"), value


# ---- What admins write ----


def test_headings_start_at_h2_because_the_title_is_the_pages_h1():
    html = render_markdown("# Why\n\n## Details")
    assert '<h2 id="why">Why</h2>' in html
    assert '<h3 id="details">Details</h3>' in html


def test_emphasis_code_lists_and_quotes():
    html = render_markdown(
        "Some *em*, **strong** and `code`.\n\n1. one\n2. two\n\n* a\n* b\n\n> quoted"
    )
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<code>code</code>" in html
    assert "<ol>\n<li>one</li>" in html and "<ul>\n<li>a</li>" in html
    assert "<blockquote>" in html


def test_tables_keep_their_alignment():
    html = render_markdown("| Day | Hours |\n|:--|--:|\n| Monday | 7–19 |")
    assert '<th align="left">Day</th>' in html
    assert '<td align="right">7–19</td>' in html


def test_fenced_code_is_shown_as_text():
    html = render_markdown("```\n<b>not bold</b>\n```")
    assert "<pre><code>&lt;b&gt;not bold&lt;/b&gt;\n</code></pre>" in html


def test_links_get_rel_noopener_and_keep_a_title():
    html = render_markdown('[Hours](/hours/ "Support hours") and <https://example.com/x>')
    assert '<a href="/hours/" title="Support hours" rel="noopener noreferrer">Hours</a>' in html
    assert '<a href="https://example.com/x" rel="noopener noreferrer">' in html


def test_mailto_links_are_kept():
    html = render_markdown("[Write to us](mailto:support@example.com)")
    assert 'href="mailto:support@example.com"' in html


def test_horizontal_rule_and_hard_line_break():
    html = render_markdown("line one  \nline two\n\n---\n")
    assert "line one<br>" in html and "<hr>" in html


# ---- Placeholders ----


def test_placeholders_are_replaced_with_or_without_spaces():
    html = render_markdown("After {{ failures }} tries, {{failures}} again.", {"failures": "5"})
    assert html == "<p>After 5 tries, 5 again.</p>"


def test_an_unknown_placeholder_stays_visible_as_typed():
    html = render_markdown("Locked for {{ lockout_duraton }}.", {"lockout_duration": "1 hour"})
    assert "{{ lockout_duraton }}" in html


def test_placeholders_are_never_evaluated_as_templates():
    values = {"name": "x"}
    html = render_markdown("{% load static %} {{ name|upper }} {{ name.upper }}", values)
    assert "{% load static %}" in html
    assert "{{ name|upper }}" in html and "{{ name.upper }}" in html


def test_a_value_cannot_smuggle_html_in():
    html = render_markdown("{{ v }}", {"v": "<script>alert(1)</script>"})
    assert "<script" not in html


# ---- Hostile input ----


def test_script_tags_are_shown_as_text_never_run():
    html = render_markdown("<script>alert('x')</script>\n\nHello <script>alert(2)</script>")
    assert "<script" not in html
    assert_harmless(html)


def test_javascript_links_lose_their_href():
    for target in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "java&#115;cript:alert(1)"):
        html = render_markdown(f"[click]({target})")
        assert "href" not in html, target
        assert_harmless(html)


def test_data_and_vbscript_links_lose_their_href():
    for target in ("data:text/html,<script>x</script>", "vbscript:msgbox(1)"):
        assert "href" not in render_markdown(f"[click]({target})")


def test_event_handler_attributes_never_reach_the_page():
    html = render_markdown('<img src="x" onerror="alert(1)">\n\n<p onclick="x">hi</p>')
    assert not any(tag == "img" for tag, _ in elements(html))
    assert_harmless(html)


def test_iframes_and_styles_in_raw_html_are_escaped():
    html = render_markdown(
        '<iframe src="https://evil.example"></iframe>\n\n<style>body{display:none}</style>'
    )
    assert not any(tag in ("iframe", "style") for tag, _ in elements(html))
    assert "&lt;iframe" in html


def test_raw_html_in_markdown_shows_as_typed():
    html = render_markdown('Press <b>Save</b> or <a href="javascript:x">here</a>.')
    assert "&lt;b&gt;Save&lt;/b&gt;" in html
    assert elements(html) == [("p", {})]


def test_markdown_images_are_dropped_even_with_a_javascript_source():
    html = render_markdown("![x](javascript:alert(1)) ![y](https://example.com/y.png)")
    assert "<img" not in html
    assert_harmless(html)


def test_the_harmlessness_check_sees_schemes_as_a_browser_does():
    assert scheme_of(" java\tscript:alert(1)") == "javascript"
    assert scheme_of("HTTPS://example.com") == "https"
    assert scheme_of("<script>data:") == ""  # not a scheme: a relative path
    assert scheme_of("/help/login/#two-factor") == ""


def test_html_comments_cannot_hide_markup():
    html = render_markdown("<!-- <script>alert(1)</script> -->")
    assert_harmless(html)


# Markdown syntax and HTML fragments, so generated text often looks like an attack.
_PIECES = st.sampled_from(
    [
        "<script>", "</script>", "<img src=x onerror=alert(1)>", "javascript:", "JAVASCRIPT:",
        "[a](", ")", "](", "<", ">", '"', "'", "`", "```", "\n", "\n\n", "*", "#", "|", "---",
        "&", "&#", ";", "<a href=", "onclick=", " on", "=", "{{ x }}", "{{", "}}", "\\",
        "<iframe>", "<svg onload=1>", "data:", "mailto:", "![i](", "<https://e.com>", ":",
    ]
)  # fmt: skip
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_any_text_renders_without_error_to_harmless_html(text: str) -> None:
    assert_harmless(render_markdown(text, {"x": "<script>"}))


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_unicode_text_renders_to_harmless_html(text: str) -> None:
    assert_harmless(render_markdown(text))
