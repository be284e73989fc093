"""web_fetch against a real HTTP(S) server on 127.0.0.1: the address rules, redirects,
DNS pinning, TLS names, limits, and what the model gets back."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from roost.providers.fetch import IPAddress, WebFetcher, is_public
from roost.services.tools.base import ToolContext
from roost.services.tools.web_fetch import WebFetch
from tests.services.tools.conftest import Env, refused

PAGE = """<!doctype html><html><head><title>Roost test page</title>
<script>alert('no')</script><style>body {}</style></head>
<body><h1>Welcome</h1><p>Hello <b>there</b>, see <a href="/text">the text</a>.</p>
<ul><li>one</li><li>two</li></ul></body></html>"""

STATIC = {
    "/page": (PAGE, "text/html"),
    "/text": ("just text\n", "text/plain"),
    "/json": ('{"a": 1}', "application/json"),
    "/big": ("z" * (3 << 20), "text/plain"),
}
TLS_NAME = "roost-test.example"


@dataclass
class Server:
    port: int = 0
    requests: list[str] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


async def handle(server: Server, request: web.Request) -> web.StreamResponse:
    server.requests.append(request.path_qs)
    path = request.path
    if path in STATIC:
        text, content_type = STATIC[path]
        return web.Response(text=text, content_type=content_type)
    if path == "/image":
        return web.Response(body=b"\x89PNG\r\n\x1a\n\x00\x00", content_type="image/png")
    if path == "/host":
        return web.Response(text=f"host={request.host}", content_type="text/plain")
    if path == "/redirect":
        raise web.HTTPFound(request.query["to"])
    if path.startswith("/loop/"):
        raise web.HTTPFound(f"/loop/{int(path.rsplit('/', 1)[1]) + 1}")
    if path == "/slow":
        await asyncio.sleep(1.5)
        return web.Response(text="late")
    return web.Response(status=404, text="no such page here")


@asynccontextmanager
async def serving(ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await handle(server, request)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    server.port = runner.addresses[0][1]
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with serving() as running:
        yield running


@pytest.fixture
def on(env: Env) -> ToolContext:
    return env.with_settings(web_fetch=True)


@pytest.fixture
def private(env: Env) -> ToolContext:
    return env.with_settings(web_fetch=True, web_allow_private=True)


def only(*allowed: str) -> WebFetch:
    """A tool whose fetcher treats just these addresses as public (to test the rules on
    a machine whose only server is on loopback)."""
    addresses = {ipaddress.ip_address(a) for a in allowed}
    return WebFetch(WebFetcher(is_allowed=lambda address: address in addresses))


FETCH = WebFetch(WebFetcher())


async def test_off_unless_switched_on(env: Env, server: Server) -> None:
    assert await refused(FETCH, env.context, url=server.url("/page")) == (
        "the web_fetch tool is turned off ([tools] web_fetch = false)"
    )
    assert server.requests == []


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "127.1.2.3"],
)
async def test_loopback_is_refused_by_default(on: ToolContext, server: Server, host: str) -> None:
    message = await refused(FETCH, on, url=server.url("/page", host=host))
    assert "non-public address; web_fetch only reaches the public internet" in message
    if host == "localhost":
        assert message.startswith("localhost resolves to ")
    assert server.requests == []  # refused before connecting


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://240.0.0.1/",
        "http://100.64.0.1/",
    ],
)
async def test_private_link_local_multicast_and_reserved_are_refused(
    on: ToolContext, url: str
) -> None:
    message = await refused(FETCH, on, url=url)
    assert "non-public address" in message


async def test_loopback_is_reached_when_private_addresses_are_allowed(
    private: ToolContext, server: Server
) -> None:
    got = await FETCH.run(private, {"url": server.url("/page")})
    assert got == (
        f"URL: {server.url('/page')}\nStatus: 200\nContent-Type: text/html\n"
        "Title: Roost test page\n\n"
        f"# Welcome\n\nHello there, see [the text]({server.url('/text')}).\n\n- one\n- two"
    )
    got = await FETCH.run(private, {"url": server.url("/json")})
    assert got.endswith('Content-Type: application/json\n\n{"a": 1}')


async def test_redirects_are_followed_and_each_hop_is_checked(server: Server, env: Env) -> None:
    context = env.with_settings(web_fetch=True)
    tool = only("127.0.0.1")  # 127.0.0.1 counts as public here, 127.0.0.2 does not
    got = await tool.run(context, {"url": server.url("/redirect?to=/text")})
    assert got.startswith(f"URL: {server.url('/text')}\nStatus: 200\n")
    assert got.endswith("just text\n")
    second_hop = server.url("/text", host="127.0.0.2")
    message = await refused(tool, context, url=server.url(f"/redirect?to={second_hop}"))
    assert message == (
        "127.0.0.2 is a private, loopback or otherwise non-public address; "
        "web_fetch only reaches the public internet"
    )
    assert server.requests == ["/redirect?to=/text", "/text", f"/redirect?to={second_hop}"]


async def test_redirect_limits_and_schemes(private: ToolContext, server: Server) -> None:
    assert await refused(FETCH, private, url=server.url("/loop/0")) == "more than 5 redirects"
    assert server.requests == [f"/loop/{n}" for n in range(6)]
    message = await refused(FETCH, private, url=server.url("/redirect?to=file:///etc/passwd"))
    assert message == "redirect target must be an http or https URL, not 'file:///etc/passwd'"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "url must be an http or https URL, not 'ftp://example.org/x'"),
        ("example.org/page", "url must be an http or https URL, not 'example.org/page'"),
        ("http://user:pw@example.org/", "url must not carry a user name or password"),
        ("http:///path", "url has no host"),
    ],
)
async def test_bad_urls_are_refused(on: ToolContext, url: str, message: str) -> None:
    assert await refused(FETCH, on, url=url) == message


async def test_dns_is_asked_once_and_the_connection_goes_to_the_checked_address(
    env: Env, server: Server
) -> None:
    """A name that resolves to an allowed address first and a forbidden one next time
    (DNS rebinding) is fetched from the first, with its own name in the Host header."""
    answers = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.1")]
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [answers[min(len(asked), 2) - 1]]

    fetcher = WebFetcher(resolve=resolve, is_allowed=lambda a: a == answers[0])
    got = await WebFetch(fetcher).run(
        env.with_settings(web_fetch=True), {"url": server.url("/host", host="rebind.test")}
    )
    assert got.endswith(f"host=rebind.test:{server.port}")
    assert asked == ["rebind.test"]


async def test_tls_uses_the_original_name_for_sni_and_the_certificate(
    env: Env, tmp_path: Path
) -> None:
    certificate, key = self_signed(tmp_path, TLS_NAME)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(certificate, key)
    async with serving(server_tls) as server:
        server_tls.sni_callback = lambda sock, name, context: server.sni.append(name)  # type: ignore[assignment,misc]
        client_tls = ssl.create_default_context(cafile=str(certificate))

        async def resolve(host: str, port: int) -> list[IPAddress]:
            return [ipaddress.ip_address("127.0.0.1")]

        tool = WebFetch(WebFetcher(resolve=resolve, ssl_context=client_tls))
        context = env.with_settings(web_fetch=True, web_allow_private=True)
        got = await tool.run(context, {"url": server.url("/host", host=TLS_NAME, scheme="https")})
        assert got.endswith(f"host={TLS_NAME}:{server.port}")
        assert server.sni == [TLS_NAME]
        # The same server by its address: the certificate does not name it, so no page.
        message = await refused(tool, context, url=server.url("/host", scheme="https"))
        assert "certificate is not valid for '127.0.0.1'" in message


async def test_errors_binary_size_and_time_limits(private: ToolContext, server: Server) -> None:
    message = await refused(FETCH, private, url=server.url("/missing"))
    assert message.startswith(f"URL: {server.url('/missing')}\nStatus: 404\n")
    assert message.endswith("no such page here")
    assert await refused(FETCH, private, url=server.url("/image")) == (
        f"{server.url('/image')} is image/png, not text"
    )
    got = await FETCH.run(private, {"url": server.url("/big")})
    assert len(got) < private.settings.output_chars + 100
    assert f"\nCut: only the first {2 << 20} bytes were read\n\nzzz" in got
    assert got.endswith("more characters cut]")
    slow = ToolContext(
        private.user,
        private.workspace,
        private.memory,
        private.settings.model_copy(update={"web_timeout": 0.5}),
    )
    assert await refused(FETCH, slow, url=server.url("/slow")) == (
        "no complete answer within 0.5 s"
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("::ffff:93.184.215.14", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("239.255.255.250", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2001::1", False),  # Teredo
        ("fe80::1", False),
        ("fec0::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("ff0e::1", False),  # global-scope multicast
        ("2001:db8::1", False),
    ],
)
def test_which_addresses_count_as_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
