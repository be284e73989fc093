"""HTML reduced to readable text for a model: headings, paragraphs, lists, links.

Built on the standard library's forgiving html.parser; scripts, styles and other
invisible parts are dropped, whitespace is collapsed as a browser would, and links keep
their absolute address in markdown form so the model can fetch them next.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

_HIDDEN = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
)
_VOID_HIDDEN = frozenset({"head"})  # its title is kept, the rest (meta, links) is not
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "details", "dialog",
        "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "header",
        "hr", "html", "main", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "thead", "tfoot", "ul", "caption",
    }
)  # fmt: skip
_LINES = frozenset({"tr", "dt", "dd", "li"})  # end a line, not a paragraph
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


class _Reader(HTMLParser):
    def __init__(self, base_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.parts: list[str] = []
        self.title: list[str] = []
        self.hidden = 0  # depth inside elements whose text is not shown
        self.in_head = False
        self.in_title = False
        self.pre = 0
        self.links: list[tuple[int, str | None]] = []  # part index where each <a> began

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "head":
            self.in_head = True
        elif tag == "title":
            self.in_title = True
        elif tag == "br":
            self._break("")
            self.parts.append("\n")
        elif tag in _HEADINGS:
            self._break("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag == "li":
            self._break("\n- ")
        elif tag in _LINES:
            self._break("\n")
        elif tag in ("td", "th"):
            self.parts.append("| " if self._after_space() else " | ")
        elif tag == "pre":
            self._break("\n\n")
            self.pre += 1
        elif tag in _BLOCKS:
            self._break("\n\n")
        elif tag == "a":
            self.links.append((len(self.parts), self._href(dict(attrs).get("href"))))

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag == "head":
            self.in_head = False
        elif tag == "title":
            self.in_title = False
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._break("\n\n")
        elif tag in _LINES:
            self._break("\n")
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._break("\n\n")
        elif tag == "a" and self.links:
            start, href = self.links.pop()
            text = "".join(self.parts[start:])
            inner = text.strip()
            if href and inner and "\n" not in inner:
                lead = text[: len(text) - len(text.lstrip())]
                trail = text[len(text.rstrip()) :]
                self.parts[start:] = [f"{lead}[{inner}]({href}){trail}"]

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        elif self.hidden or self.in_head:
            return
        elif self.pre:
            self.parts.append(data)
        else:
            text = _SPACES.sub(" ", data)
            if self._after_space():
                text = text.lstrip(" ")
            if text:
                self.parts.append(text)

    def _after_space(self) -> bool:
        return not self.parts or self.parts[-1][-1:] in (" ", "\n")

    def _break(self, text: str) -> None:
        """Start a new line (or paragraph) without the spaces that ended the last one."""
        if not self.pre:
            while self.parts and self.parts[-1].endswith(" "):
                self.parts[-1] = self.parts[-1].rstrip(" ")
                if not self.parts[-1]:
                    self.parts.pop()
        tail = "".join(self.parts[-2:])
        have = len(tail) - len(tail.rstrip("\n")) if self.parts else 2
        want = len(text) - len(text.lstrip("\n"))
        text = "\n" * max(0, want - have) + text[want:]
        if text:
            self.parts.append(text)

    def _href(self, href: str | None) -> str | None:
        if not href:
            return None
        absolute = urljoin(self.base_url, href.strip())
        return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def html_to_text(html: str, base_url: str = "") -> tuple[str, str]:
    """(title, text) of an HTML document."""
    reader = _Reader(base_url)
    reader.feed(html)
    reader.close()
    title = _SPACES.sub(" ", "".join(reader.title)).strip()
    text = _BLANK_LINES.sub("\n\n", "".join(reader.parts)).strip("\n ")
    return title, text
