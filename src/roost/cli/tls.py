"""A self-signed certificate for `roost serve --use-ssl`, made once and kept in $ROOST_HOME.

The certificate covers localhost, 127.0.0.1, ::1 and the bind host, and lasts about ten
years: it exists so that traffic on a LAN is encrypted, not to prove identity to browsers.
Clients that want verification can pin cert.pem (`curl --cacert`, httpx `verify=`).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
VALID_DAYS = 3650
_WILDCARD = frozenset({"", "0.0.0.0", "::"})


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host.lower())


def _names(host: str) -> list[x509.GeneralName]:
    # A wildcard bind is reached by the machine's name; a specific one by that address.
    extra = socket.gethostname() if host in _WILDCARD else host
    return [_general_name(h) for h in dict.fromkeys([*_LOOPBACK, extra.lower()]) if h]


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file created with its final mode, then rename over."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed or widened nothing; be exact
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def generate(cert_path: Path, key_path: Path, host: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "roost"),
            x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # tolerate a client's clock skew
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(key_path, key_pem, 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _problem(cert_path: Path, host: str) -> str | None:
    """Why a kept certificate will not suit this bind, if it will not."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return f"{cert_path} is not a PEM certificate"
    if cert.not_valid_after_utc < datetime.datetime.now(datetime.UTC):
        return f"{cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if host in _WILDCARD or host.lower() in _LOOPBACK:
        return None
    try:
        covered = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return f"{cert_path} names no hosts"
    if _general_name(host) not in covered:
        return f"{cert_path} does not name '{host}'"
    return None


def ensure_certificate(home: Path, host: str) -> tuple[Path, Path, str | None]:
    """(cert, key, warning): reuse the pair in `home` if both exist, else make one."""
    cert_path, key_path = home / CERT_FILE, home / KEY_FILE
    if cert_path.is_file() and key_path.is_file():
        # A pair the user put there is theirs: warn about it, never overwrite it.
        problem = _problem(cert_path, host)
        hint = f"{problem}; delete {cert_path} and {key_path} to have a new one made"
        return cert_path, key_path, hint if problem else None
    home.mkdir(parents=True, exist_ok=True)
    generate(cert_path, key_path, host)
    return cert_path, key_path, None
