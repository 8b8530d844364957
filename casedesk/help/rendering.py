"""Help article text to safe HTML: placeholders, then Markdown, then nh3.

Pure functions with no Django import, so the admin preview, the pages and the
tests all render the same way.

1. ``{{ name }}`` placeholders are replaced by plain-text values. An unknown
   name stays as typed, so an admin sees the typo on the page; nothing is ever
   evaluated as a template.
2. Markdown becomes HTML. Raw HTML in the text is not passed through: it shows
   as typed, so Markdown is the one markup an admin needs to know.
3. nh3 (the Rust ammonia sanitiser) keeps only the tags below, links only to
   http, https, mailto or relative addresses, and adds rel="noopener noreferrer"
   to every link. Step 2 already escapes raw HTML; this step is what makes the
   output safe whatever Markdown or its extensions produce.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import markdown  # type: ignore[import-untyped]  # Markdown ships no type hints
import nh3

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

_HEADINGS = {"h2", "h3", "h4", "h5", "h6"}
ALLOWED_TAGS = _HEADINGS | {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "a",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    # Table cell alignment from the Markdown `| :--- |` syntax.
    "th": {"align"},
    "td": {"align"},
    # Heading anchors (/help/login/#two-factor-authentication), written by the toc extension.
    **{heading: {"id"} for heading in _HEADINGS},
}
URL_SCHEMES = {"http", "https", "mailto"}

_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=URL_SCHEMES,
    link_rel="noopener noreferrer",
    strip_comments=True,
)


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """Replace each known ``{{ name }}`` with its value; leave unknown ones as typed."""
    return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def markdown_to_html(text: str) -> str:
    """Markdown to HTML, unsanitised. Raw HTML in ``text`` comes out escaped."""
    # A Markdown instance keeps state between calls: one per call is thread-safe.
    converter = markdown.Markdown(
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        # The article's title is the page's <h1>: a "# Section" in the body is an <h2>.
        extension_configs={
            "toc": {"baselevel": 2},
            # align="..." rather than style="...": nh3 drops style attributes.
            "tables": {"use_align_attribute": True},
        },
    )
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    return str(converter.convert(text))


def sanitise(html: str) -> str:
    """Keep only the allowed tags, attributes and link schemes (see the module docstring)."""
    return _CLEANER.clean(html)


def render_markdown(text: str, values: Mapping[str, str] | None = None) -> str:
    """An article body as sanitised HTML, safe to put in a page as it is."""
    return sanitise(markdown_to_html(fill_placeholders(text, values or {})))
