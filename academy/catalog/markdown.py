"""Lesson Markdown to safe HTML: markdown-it-py renders, nh3 sanitises."""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# Raw HTML in a lesson is shown as text, never passed through.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable(
    "strikethrough"
)

_TAGS = {
    "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong",
    "em", "code", "pre", "blockquote", "table", "thead", "tbody", "tr", "th", "td", "img", "s",
}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"},
               "th": {"style"}, "td": {"style"}, "ol": {"start"}}


def render(markdown: str) -> str:
    """Render lesson Markdown; the sanitiser is the last word whatever the renderer lets by."""
    return nh3.clean(
        _md.render(markdown),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"https", "http", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
