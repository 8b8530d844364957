"""DNS lookups for checking mail senders: one resolver, a cache that honours TTLs, and a
time budget shared by every lookup made for one message.

``Resolver(servers)`` wraps one dnspython resolver (``configure=False`` with the given
servers, or the system's resolv.conf when none are given) and its LRU cache, which keeps
answers, NXDOMAIN and NODATA for as long as their TTL (or the SOA minimum) says: a burst
of mail from one domain costs one lookup per record, not one per message. It is safe to
share between threads. ``resolver.budget(seconds)`` hands out a :class:`Lookup` whose
queries together never take longer than ``seconds``: each query gets what is left (at
most ``query_seconds``), and once the budget is spent every query fails at once with
:class:`DNSTempError`, so a server that never answers costs at most the budget.
"""

from __future__ import annotations

import functools
import ipaddress
import threading
import time
from collections.abc import Iterable, Sequence

import dns.exception
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

# One query may take this long before it is a temporary error (dnspython's per-server
# timeout; the budget of the message may leave it less).
QUERY_SECONDS = 2.0
# Answers kept in the cache (each is a few hundred bytes).
CACHE_ENTRIES = 20_000


class DNSTempError(Exception):
    """No answer now: a timeout, SERVFAIL, no usable server, or the budget was spent."""


def parse_servers(value: Iterable[str]) -> list[str]:
    """``["192.0.2.53", "[2001:db8::53]:5353", "127.0.0.1:5353"]`` -> ``host:port`` strings
    (IPv6 hosts in brackets), port 53 when none is given. Raises ValueError on anything
    that is not an IP address with an optional port in 1-65535."""
    out = []
    for item in value:
        host, port = _split(item.strip())
        out.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return out


def _split(item: str) -> tuple[str, int]:
    if item.startswith("["):
        host, bracket, rest = item[1:].partition("]")
        if not bracket:
            raise ValueError(f"{item!r}: expected [address]:port")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{item!r}: expected [address]:port")
        port_text = rest.removeprefix(":")
    elif item.count(":") == 1:
        host, port_text = item.split(":")
    else:
        host, port_text = item, ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{item!r}: {host!r} is not an IP address") from None
    if not port_text:
        return str(address), 53
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"{item!r}: the port must be a number from 1 to 65535")
    return str(address), int(port_text)


class Resolver:
    """One dnspython resolver and its cache (see the module docstring)."""

    def __init__(self, servers: Sequence[str] = (), query_seconds: float = QUERY_SECONDS) -> None:
        self.query_seconds = query_seconds
        if servers:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(host, port)
                for host, port in (_split(server) for server in servers)
            ]
        else:
            try:
                resolver = dns.resolver.Resolver(configure=True)  # /etc/resolv.conf
            except dns.exception.DNSException:
                resolver = dns.resolver.Resolver(configure=False)  # every lookup: temperror
        resolver.timeout = query_seconds
        resolver.lifetime = query_seconds
        resolver.cache = dns.resolver.LRUCache(CACHE_ENTRIES)
        self._resolver = resolver

    def budget(self, seconds: float) -> Lookup:
        return Lookup(self, time.monotonic() + seconds)

    def clear_cache(self) -> None:
        self._resolver.cache.flush()

    def resolve(self, name: str, rdtype: str, seconds: float) -> dns.resolver.Answer | None:
        """The answer, or None when the name or the record does not exist."""
        if not name.strip("."):
            return None  # the root holds no mail records
        try:
            qname = _name(name)
        except dns.exception.DNSException:
            return None  # not a name DNS could hold (an empty or too long label)
        try:
            found, cached = self._cached(qname, rdtype)
            if found:
                return cached
            answer = self._resolver.resolve(
                qname, rdtype, search=False, lifetime=seconds, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN:
            return None
        except (
            dns.exception.Timeout,
            dns.resolver.NoNameservers,
            dns.resolver.NoResolverConfiguration,
        ) as error:
            raise DNSTempError(f"{name} {rdtype}: {error}") from None
        except dns.exception.DNSException as error:
            # YXDOMAIN, a malformed answer, ...: nothing usable now.
            raise DNSTempError(f"{name} {rdtype}: {error}") from None
        return answer if answer.rrset is not None else None

    def _cached(self, qname: dns.name.Name, rdtype: str) -> tuple[bool, dns.resolver.Answer | None]:
        """(True, what :meth:`resolve` would answer from the cache: an answer, or None for
        NODATA and NXDOMAIN), or (False, None) when the cache has nothing for it.

        The two cache entries dnspython's own resolution consults first, in its order
        (the record, then an NXDOMAIN kept for the name), read directly: answering a
        cached name through ``Resolver.resolve`` builds a resolution, and for NXDOMAIN an
        exception, each time (four fifths of a cached lookup), and a burst of mail asks
        the same few names again and again.
        """
        cache = self._resolver.cache
        if cache is None:
            return False, None
        answer = cache.get((qname, dns.rdatatype.from_text(rdtype), dns.rdataclass.IN))
        if answer is not None:
            return True, (answer if answer.rrset is not None else None)
        missing = cache.get((qname, dns.rdatatype.ANY, dns.rdataclass.IN))
        if missing is not None and missing.response.rcode() == dns.rcode.NXDOMAIN:
            return True, None
        return False, None


@functools.lru_cache(maxsize=4096)
def _name(text: str) -> dns.name.Name:
    """``text`` as an absolute DNS name (immutable; the same few names come again and again)."""
    return dns.name.from_text(text)


class Lookup:
    """The lookups for one message, sharing one deadline (``Resolver.budget``)."""

    def __init__(self, resolver: Resolver, deadline: float) -> None:
        self.resolver = resolver
        self.deadline = deadline
        self.queries = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def query(self, name: str, rdtype: str) -> dns.resolver.Answer | None:
        """The answer (None: no such name or record); DNSTempError when the budget is spent
        or the servers do not answer."""
        left = self.remaining()
        if left <= 0:
            raise DNSTempError(f"{name} {rdtype}: the time budget for DNS lookups is spent")
        self.queries += 1
        return self.resolver.resolve(name, rdtype, min(left, self.resolver.query_seconds))

    def txt(self, name: str) -> list[bytes]:
        """Each TXT record of ``name`` with its strings joined (RFC 7208 3.3, RFC 6376 3.6.2.2)."""
        answer = self.query(name, "TXT")
        if answer is None:
            return []
        return [b"".join(rdata.strings) for rdata in answer]


_shared: dict[tuple[str, ...], Resolver] = {}
_shared_lock = threading.Lock()


def shared(servers: Sequence[str]) -> Resolver:
    """The process's resolver for these servers (made once; its cache lives with it)."""
    key = tuple(servers)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Resolver(key)
        return _shared[key]


def clear_caches() -> None:
    """Forget every cached answer (tests that change their DNS zone call this)."""
    with _shared_lock:
        for resolver in _shared.values():
            resolver.clear_cache()


__all__ = ["DNSTempError", "Lookup", "Resolver", "clear_caches", "parse_servers", "shared"]
