"""The HTTP POST of a delivery, with the guard against server-side request forgery.

A customer chooses the URL, so without a guard a webhook could make CALLKOM's servers call their own private
network (a database, a cloud metadata service). The host is resolved and every address must be public; the
connection then goes to the address that was checked, not to a second DNS answer (which a hostile DNS server
could point elsewhere between the check and the connection). Redirects are not followed, for the same reason.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

REQUEST_TIMEOUT_S = 10


class UnsafeAddress(Exception):
    """The URL's host resolves to an address that is not on the public internet."""


def default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def resolve(host: str, port: int) -> list[str]:
    """Return every address of the host (IPv4 and IPv6); raise OSError when it does not resolve."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def checked_addresses(host: str, port: int) -> list[str]:
    """Resolve the host; raise UnsafeAddress if any of its addresses is private, loopback, link-local or reserved."""
    addresses = resolve(host, port)
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        refused = [address for address in addresses if not is_public(address)]
        if refused:
            raise UnsafeAddress(f"{host} resolves to a non-public address ({refused[0]}).")
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with the certificate verified against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float = REQUEST_TIMEOUT_S) -> int:
    """POST the body and return the HTTP status; raise OSError, HTTPException or UnsafeAddress on failure."""
    parts = urlsplit(url)
    port = parts.port or default_port(parts.scheme)
    address = checked_addresses(parts.hostname, port)[0]
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(parts.hostname, port, address=address, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        # Only the status matters; the response body is never read, so a receiver cannot hold a worker by
        # trickling one.
        return connection.getresponse().status
    finally:
        connection.close()
