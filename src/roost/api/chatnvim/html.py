"""The session preview page: Jinja2 with autoescaping, markdown without raw HTML.

Everything a message holds is the model's or a client's text, so none of it may become
markup: Jinja escapes every value, markdown-it runs with raw HTML off (a `<script>` in a
message is shown as text), refuses `javascript:`-style links, and images are off so a
message cannot make the browser fetch anything. The page carries no script at all, and
its Content-Security-Policy says so.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from roost.core.clock import isoformat
from roost.services.inbox import SessionPreview

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    return md.enable(["table", "strikethrough"]).disable("image")


def markdown(text: str) -> Markup:
    return Markup(_markdown().render(text))  # noqa: S704 - html is off: the output is safe


def pretty(value: Any) -> str:
    """JSON pretty-printed; a string that holds JSON is parsed first, other text kept."""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # stored text nested too deep for json: as is
            return text
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def when(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("roost.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(markdown=markdown, pretty=pretty, when=when, iso=isoformat)
    return env


def render_preview(preview: SessionPreview) -> str:
    stored = {m.inbox_id for m in preview.messages if m.role == "user" and m.inbox_id is not None}
    page: str = (
        _environment()
        .get_template("session.html")
        .render(
            p=preview,
            pending_by_id={item.id: item for item in preview.pending},
            stored_ids=stored,
        )
    )
    return page
