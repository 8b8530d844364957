"""POSTing a webhook delivery without letting its URL reach inside our network.

A webhook URL is typed by an admin, but its host name resolves to whatever its
DNS says at delivery time, and a receiver can answer with a redirect. So:

- only ``http`` and ``https``;
- the host is resolved once and every address it resolves to must be global
  (not loopback, private, link-local such as 169.254.169.254, ...);
- the connection goes to the addresses that were checked (the ``Host`` header and
  TLS SNI/certificate check still use the name), so a second lookup that answers
  differently (DNS rebinding) is never made;
- redirects are not followed: a 3xx is an answer, and the caller treats it as a
  refusal.

``CASEDESK_STATUS_WEBHOOK_ALLOW_PRIVATE`` turns the address check off (a receiver
on the same network, the tests' local server).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

SCHEMES = ("http", "https")


class Refused(ValueError):
    """The URL may not be called (scheme, host or address); another try cannot help."""


def check_address(text: str) -> None:
    """Refuse an address that is not on the public internet."""
    address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global:
        raise Refused(f"{address} is not a public address")


def literal_address(host: str) -> str | None:
    """The host itself if it is an IP address literal, else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to, in the resolver's order, every one checked."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            check_address(address)
    return addresses


def _connect(addresses: list[str], port: int, timeout: float | None) -> socket.socket:
    """A connection to the first of the checked addresses that answers."""
    error: OSError = OSError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            error = exc
    raise error


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[str], timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._addresses = addresses

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self.timeout)
        # The certificate is checked against the name, as without pinning.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> int:
    """POST ``body`` to ``url`` once, redirects not followed; returns the HTTP status.

    Raises :class:`Refused` for a URL that may not be called and ``OSError``
    (``http.client.HTTPException`` included as ``OSError``) when the receiver
    cannot be reached or answers garbage.
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise Refused(f"only http and https, not {parts.scheme or 'no scheme'}")
    host = parts.hostname
    if not host:
        raise Refused("the URL names no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused(f"bad port: {exc}") from exc
    addresses = resolve(host, port, allow_private=allow_private)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(host, port, addresses, timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if any(ord(c) < 33 or ord(c) == 127 for c in target):
        raise Refused("the URL's path holds spaces or control characters")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    except http.client.HTTPException as exc:
        raise OSError(f"bad answer: {exc!r}") from exc
    finally:
        connection.close()
