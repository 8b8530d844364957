"""A DNS server on 127.0.0.1 for the tests: SPF, DKIM and DMARC records without the internet.

One thread answers UDP and TCP on the same free port from a :class:`Zone` the tests fill
(TXT, A, AAAA, MX, CNAME, PTR); a name it does not hold is NXDOMAIN, a name it holds with
no record of the asked type is an empty answer (NODATA). Two switches stand in for a
broken server: ``blackhole`` (it reads the question and never answers) and ``servfail``
(for every name, or for the names under those in ``servfail_names``).
The root conftest starts one per test process and points ``CASEDESK_MAIL_DNS_SERVERS`` at
it; tests fill it through the ``dns_zone`` fixture (mail/tests/conftest.py).
"""

from __future__ import annotations

import base64
import functools
import selectors
import socket
import struct
import threading
from collections import defaultdict
from dataclasses import dataclass, field

import dkim
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from dnslib import AAAA, CNAME, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord

# Answers live this long in a resolver's cache (the dns_zone fixture empties our own
# resolver's cache before and after each test, so a test never sees another's records).
TTL = 300
NEGATIVE_TTL = 60


def _name(name: str) -> str:
    return name.strip().rstrip(".").lower()


@dataclass
class Zone:
    """The records the server answers from, and its failure switches."""

    records: dict[str, list[RR]] = field(default_factory=lambda: defaultdict(list))
    blackhole: bool = False
    servfail: bool = False
    # Names (and the names under them) answered with SERVFAIL: one domain's broken DNS.
    servfail_names: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    queries: list[tuple[str, str]] = field(default_factory=list)  # (name, type) asked

    def add(self, name: str, rdata: object, rtype: str, ttl: int = TTL) -> None:
        key = _name(name)
        rr = RR(key + ".", getattr(QTYPE, rtype), rdata=rdata, ttl=ttl)
        with self.lock:
            self.records[key].append(rr)

    def txt(self, name: str, text: str, ttl: int = TTL) -> None:
        """A TXT record; text over 255 bytes is split into strings as DNS requires."""
        data = text.encode()
        chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
        self.add(name, TXT(chunks), "TXT", ttl)

    def a(self, name: str, address: str) -> None:
        self.add(name, A(address), "A")

    def aaaa(self, name: str, address: str) -> None:
        self.add(name, AAAA(address), "AAAA")

    def mx(self, name: str, exchange: str, preference: int = 10) -> None:
        self.add(name, MX(exchange, preference), "MX")

    def cname(self, name: str, target: str) -> None:
        self.add(name, CNAME(target), "CNAME")

    def ptr(self, name: str, target: str) -> None:
        self.add(name, PTR(target), "PTR")

    # ---- What the tests publish ----

    def publish_spf(self, domain: str, record: str) -> None:
        """``publish_spf("globex.example", "v=spf1 ip4:198.51.100.25 -all")``."""
        self.txt(domain, record)

    def publish_dkim(
        self, domain: str, selector: str, public_key: bytes, kind: str = "rsa"
    ) -> None:
        """The key record of ``selector._domainkey.domain``; ``public_key`` is base64 (as
        :class:`DkimKey` gives it: DER SubjectPublicKeyInfo for RSA, raw for ed25519)."""
        self.txt(f"{selector}._domainkey.{domain}", f"v=DKIM1; k={kind}; p={public_key.decode()}")

    def publish_dmarc(self, domain: str, record: str) -> None:
        """``publish_dmarc("globex.example", "v=DMARC1; p=reject")``."""
        self.txt(f"_dmarc.{domain}", record)

    def clear(self) -> None:
        with self.lock:
            self.records.clear()
            self.queries.clear()
            self.blackhole = False
            self.servfail = False
            self.servfail_names.clear()

    def answer(self, request: DNSRecord) -> DNSRecord | None:
        """The reply to one question; None to stay silent (blackhole)."""
        question = request.q
        name = _name(str(question.qname))
        qtype = QTYPE.get(question.qtype, str(question.qtype))
        with self.lock:
            self.queries.append((name, qtype))
            if self.blackhole:
                return None
            reply = request.reply()
            broken = any(name == bad or name.endswith("." + bad) for bad in self.servfail_names)
            if self.servfail or broken:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            # Follow CNAMEs (a few, so a loop ends) as a recursive server would.
            for _ in range(8):
                held = self.records.get(name, [])
                aliases = [rr for rr in held if rr.rtype == QTYPE.CNAME]
                if aliases and qtype != "CNAME":
                    reply.add_answer(aliases[0])
                    name = _name(str(aliases[0].rdata.label))
                    continue
                break
            matching = [rr for rr in held if rr.rtype == question.qtype]
            for rr in matching:
                reply.add_answer(rr)
            if not matching:
                if not held and not reply.rr:
                    reply.header.rcode = RCODE.NXDOMAIN
                # The SOA in the authority section tells a resolver how long to cache "no".
                apex = ".".join(name.split(".")[-2:]) + "."
                soa = SOA("ns." + apex, "hostmaster." + apex, (1, 3600, 600, 86400, NEGATIVE_TTL))
                reply.add_auth(RR(apex, QTYPE.SOA, rdata=soa, ttl=NEGATIVE_TTL))
            return reply


class DNSServer:
    """UDP and TCP on 127.0.0.1, one port, one daemon thread."""

    def __init__(self, zone: Zone | None = None) -> None:
        self.zone = zone or Zone()
        self.udp, self.tcp = _bind_pair()
        self.port: int = self.udp.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:port``, the form CASEDESK_MAIL_DNS_SERVERS takes."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> DNSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.udp, selectors.EVENT_READ)
            selector.register(self.tcp, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(timeout=0.2):
                    try:
                        if key.fileobj is self.udp:
                            self._udp_once()
                        else:
                            self._tcp_once()
                    except Exception:  # one bad exchange must not stop the server
                        continue

    def _reply(self, data: bytes) -> bytes | None:
        try:
            request = DNSRecord.parse(data)
        except Exception:  # a garbage packet gets no answer, as from a real server
            return None
        try:
            reply = self.zone.answer(request)
        except Exception:  # a question the zone cannot hold (an odd name): SERVFAIL
            reply = request.reply()
            reply.header.rcode = RCODE.SERVFAIL
        return None if reply is None else reply.pack()

    def _udp_once(self) -> None:
        data, peer = self.udp.recvfrom(4096)
        out = self._reply(data)
        if out is None:
            return
        if len(out) > 512:  # too large for UDP without EDNS: the resolver retries over TCP
            request = DNSRecord.parse(data)
            truncated = request.reply()
            truncated.header.tc = 1
            out = truncated.pack()
        self.udp.sendto(out, peer)

    def _tcp_once(self) -> None:
        conn, _ = self.tcp.accept()
        with conn:
            conn.settimeout(2)
            head = _read_exactly(conn, 2)
            data = _read_exactly(conn, struct.unpack("!H", head)[0])
            out = self._reply(data)
            if out is not None:
                conn.sendall(struct.pack("!H", len(out)) + out)


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    out = b""
    while len(out) < size:
        chunk = conn.recv(size - len(out))
        if not chunk:
            raise OSError("connection closed")
        out += chunk
    return out


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP socket on a free port and a TCP socket on the same port number."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:
            udp.close()
            tcp.close()
            continue
        tcp.listen(16)
        return udp, tcp
    raise OSError("no port free for UDP and TCP together")


# ---- Signed messages ----


@dataclass
class DkimKey:
    """A DKIM key pair made in the test: ``key.sign(raw, "acme.example")``, and
    ``zone.publish_dkim(domain, key.selector, key.public, key.kind)`` to publish it."""

    selector: str = "s1"
    kind: str = "rsa"  # or "ed25519"
    private: bytes = b""  # what dkim.sign takes
    public: bytes = b""  # base64, for the p= tag

    def __post_init__(self) -> None:
        if self.private:
            return
        if self.kind == "ed25519":
            ed = ed25519.Ed25519PrivateKey.generate()
            raw = ed.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            self.private = base64.b64encode(raw)
            self.public = base64.b64encode(
                ed.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            )
        else:
            key = _rsa_key()
            self.private = key.private_bytes(
                Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()
            )
            der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            self.public = base64.b64encode(der)

    def sign(self, raw: bytes, domain: str, headers: tuple[bytes, ...] | None = None) -> bytes:
        """``raw`` with a DKIM-Signature of ``domain`` (d=) prepended."""
        algorithm = b"ed25519-sha256" if self.kind == "ed25519" else b"rsa-sha256"
        signature = dkim.sign(
            raw,
            self.selector.encode(),
            domain.encode(),
            self.private,
            signature_algorithm=algorithm,
            include_headers=list(headers) if headers else None,
        )
        return bytes(signature) + raw


@functools.cache
def _rsa_key() -> rsa.RSAPrivateKey:
    """One 2048-bit key per test process: making one costs ~0.1-1 s of CPU."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
