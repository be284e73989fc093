"""web_fetch: read a web page as text (off unless [tools] web_fetch).

The network part, with the address rules (no private, loopback, link-local, ... unless
`web_allow_private`), lives in `roost.providers.fetch`; the tool gets a fetcher from
whoever builds it and turns the page into text for the model.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from roost.providers.base import ToolSpec
from roost.providers.fetch import MAX_URL_CHARS, FetchedPage, FetchError
from roost.services.tools.args import parse, schema
from roost.services.tools.base import ToolContext, ToolError, clip
from roost.services.tools.html_text import html_to_text

MAX_FETCH_BYTES = 2 << 20  # pages are read up to this much; the text is cut to output_chars
ERROR_BODY_CHARS = 2_000
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_TEXT = frozenset(
    {"application/json", "application/xml", "application/javascript", "application/x-yaml"}
)


class Fetcher(Protocol):
    """What the tool needs of `roost.providers.fetch.WebFetcher`."""

    async def fetch(
        self, url: str, *, allow_private: bool, time_limit: float, max_bytes: int
    ) -> FetchedPage: ...


class WebFetch:
    dangerous = True
    spec = ToolSpec(
        name="web_fetch",
        description=(
            "Fetch a web page (http or https URL, GET) and return its text: HTML is reduced "
            "to readable text with links as [text](url); JSON, XML and plain text come as "
            "they are. Long pages are cut. Only public internet addresses can be reached."
        ),
        parameters=schema(
            {
                "url": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_URL_CHARS,
                    "description": "Full address, e.g. https://example.org/page",
                }
            },
            "url",
        ),
    )

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    async def run(self, context: ToolContext, arguments: dict[str, Any]) -> str:
        args = parse(self.spec, arguments)
        settings = context.settings
        if not settings.web_fetch:
            raise ToolError("the web_fetch tool is turned off ([tools] web_fetch = false)")
        try:
            page = await self._fetcher.fetch(
                args.string("url"),
                allow_private=settings.web_allow_private,
                time_limit=settings.web_timeout,
                max_bytes=MAX_FETCH_BYTES,
            )
        except FetchError as exc:
            raise ToolError(exc.message) from None
        if page.status >= 400:
            raise ToolError(clip(render(page), min(ERROR_BODY_CHARS, settings.output_chars)))
        return clip(render(page), settings.output_chars)


def render(page: FetchedPage) -> str:
    """The page as the model reads it: where it came from, then its text."""
    head = f"URL: {page.url}\nStatus: {page.status}\n"
    if page.content_type:
        head += f"Content-Type: {page.content_type}\n"
    body = page.body
    sniffed_html = not page.content_type and body.lstrip()[:15].lower().startswith(
        (b"<!doctype html", b"<html")
    )
    if page.content_type in _HTML or sniffed_html:
        charset = page.charset or _meta_charset(body)
        title, text = html_to_text(_decode(body, charset), page.url)
        if title:
            head += f"Title: {title}\n"
    elif _is_text(page.content_type, body):
        text = _decode(body, page.charset)
    else:
        raise ToolError(f"{page.url} is {page.content_type or 'binary data'}, not text")
    if page.truncated:  # said up front: the end of the text may be cut again below
        head += f"Cut: only the first {MAX_FETCH_BYTES} bytes were read\n"
    return f"{head}\n{text}"


def _is_text(media: str, body: bytes) -> bool:
    if media.startswith("text/") or media in _TEXT or media.endswith(("+json", "+xml")):
        return True
    return not media and b"\x00" not in body[:8192]


def _meta_charset(body: bytes) -> str | None:
    found = _META_CHARSET.search(body[:4096])
    return found.group(1).decode("ascii") if found else None


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")
