"""HTML reduced to text: what is kept, what is dropped, how it is laid out."""

from __future__ import annotations

from roost.services.tools.html_text import html_to_text


def test_structure_survives_and_invisible_parts_go() -> None:
    html = """<html><head><title> A   &amp; B </title><meta charset="utf-8">
    <style>p { color: red }</style><script>var secret = 1;</script></head>
    <body><nav><a href="/">Home</a> | <a href="javascript:void(0)">Menu</a></nav>
    <h2>Section   one</h2><p>Some <em>emphasis</em>
    across lines.</p><noscript>enable js</noscript><svg><text>drawn</text></svg>
    <ol><li>first</li><li>second <a href="https://example.org/x?y=1">link</a></li></ol>
    <p>line<br>break<br><br>after a blank</p>
    <table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>
    <pre>  keep
      this</pre><p>caf&eacute; &lt;tag&gt;</p></body></html>"""
    title, text = html_to_text(html, "https://site.test/docs/page.html")
    assert title == "A & B"
    assert text == (
        "[Home](https://site.test/) | Menu\n\n"
        "## Section one\n\n"
        "Some emphasis across lines.\n\n"
        "- first\n- second [link](https://example.org/x?y=1)\n\n"
        "line\nbreak\n\nafter a blank\n\n"
        "| k | v\n| a | 1\n\n"
        "  keep\n      this\n\n"
        "café <tag>"
    )


def test_broken_html_is_read_anyway() -> None:
    html = "<p>open <b>bold <i>both</p><div>next</span></div><a href=x>never closed"
    assert html_to_text(html, "http://h/a/") == ("", "open bold both\n\nnext\n\nnever closed")
    assert html_to_text("<script>a<b</script>visible") == ("", "visible")
    assert html_to_text("<a href='mailto:x@y'>mail</a> <a href='b'>rel</a>", "http://h/a/") == (
        "",
        "mail [rel](http://h/a/b)",
    )
