"""Is the sender of an inbound message who its ``From:`` says? SPF, DKIM and DMARC.

A :class:`Verdict` holds what the checks found for one message: the SPF result for
the envelope sender, the best DKIM signature's result, the DMARC result and the
policy the ``From:`` domain publishes, and whether SPF's and DKIM's domains are
aligned with the ``From:`` domain (RFC 7489 section 3.1, relaxed: the same
organizational domain). :meth:`Verdict.judgment` turns it into one of three answers
the mail policy acts on (``CASEDESK_MAIL_SENDER_POLICY``, see mail/process.py):

- **pass**: SPF or DKIM passed for a domain aligned with ``From:`` (what DMARC calls
  a pass): the sender is who it says;
- **fail**: the ``From:`` domain publishes DMARC ``quarantine`` or ``reject`` and the
  message fails it, or SPF and DKIM gave definite answers and neither passed for the
  ``From:`` domain (a forger's own server, with its own SPF or signature);
- **none**: no verdict either way (no SPF record, no signature, a DNS error): the
  message is processed, and its case and any page say "sender not verified".

:func:`verify` makes the Verdict, in one of two ways:

1. **From DNS** (the default). Every DKIM signature is checked (dkimpy; rsa-sha256 and
   ed25519-sha256; at most ``MAX_SIGNATURES``) and the best result kept; SPF (pyspf) for
   the envelope sender, or the HELO name when the envelope sender is null, from the
   client's IP (no IP known, as for IMAP or an upload: ``spf=none``); then the ``From:``
   domain's DMARC record (``_dmarc.<domain>``, else the organizational domain's from the
   Public Suffix List), its ``p=``/``sp=`` and ``adkim``/``aspf`` alignment modes. All
   lookups go through one resolver (casedesk.lib.dnsresolver: the servers of
   ``CASEDESK_MAIL_DNS_SERVERS``, a cache honouring TTLs) and share one budget,
   ``CASEDESK_MAIL_VERIFY_SECONDS``: what is left when it is spent is ``temperror``.
2. **From the MTA in front**, when ``CASEDESK_MAIL_TRUSTED_AUTHSERV_ID`` names it: its
   ``Authentication-Results`` header fields (RFC 8601) are read instead, and no DNS is
   asked. Only fields with that authserv-id count, and only the top-most ones (the MTA
   prepends its own, above the ``Received:`` of the hop before); each method's results
   come from the top-most of them that has the method. **The MTA must remove
   incoming ``Authentication-Results`` fields that carry its own authserv-id** (RFC 8601
   section 5; Postfix with OpenDMARC/OpenDKIM, rspamd and Exim all can), or a sender
   could write one that says "pass".

verify() never raises: a garbled message, signature or record is a ``permerror`` or
``none``, a DNS failure a ``temperror``.
"""

from __future__ import annotations

import contextvars
import functools
import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import dkim
import spf
from django.conf import settings
from publicsuffixlist import PublicSuffixList

from casedesk.lib import authresults, dnsresolver
from casedesk.lib.dnsresolver import DNSTempError, Lookup
from casedesk.mail.models import SenderCheck as Judgment

logger = logging.getLogger(__name__)

# RFC 8601 result words. SPF: pass, fail, softfail, neutral, none, temperror,
# permerror. DKIM: pass, fail, neutral, none, policy, temperror, permerror.
# DMARC: pass, fail, none, temperror, permerror.
_DEFINITE = ("pass", "fail")
_ENFORCED = ("quarantine", "reject")


@dataclass(frozen=True)
class Verdict:
    """What the checks found for one message (see the module docstring)."""

    from_domain: str = ""
    spf: str = "none"
    spf_domain: str = ""  # the domain SPF checked: the envelope sender's, else HELO's
    spf_aligned: bool = False
    dkim: str = "none"  # the best signature's result ("pass" if any passed)
    dkim_domain: str = ""  # that signature's d=
    dkim_aligned: bool = False
    dmarc: str = "none"
    dmarc_policy: str = ""  # none, quarantine, reject; "" when the domain publishes none
    # Where the results come from: "DNS", or "Authentication-Results of mx.example.com".
    source: str = "DNS"
    spf_comment: str = ""  # why SPF has no result, e.g. "no client IP known"

    @property
    def judgment(self) -> Judgment:
        if (self.spf == "pass" and self.spf_aligned) or (self.dkim == "pass" and self.dkim_aligned):
            return Judgment.PASS
        if self.dmarc == "fail" and self.dmarc_policy in _ENFORCED:
            return Judgment.FAIL
        if self.spf in _DEFINITE or self.dkim in _DEFINITE:
            # Something answered, and it did not vouch for the From: domain.
            return Judgment.FAIL
        return Judgment.NONE

    @property
    def reason(self) -> str:
        """One line for the desk: why the message passed, failed or has no verdict."""
        domain = self.from_domain or "(no From: domain)"
        judgment = self.judgment
        if judgment == Judgment.PASS:
            how = "DKIM" if self.dkim == "pass" and self.dkim_aligned else "SPF"
            return f"sender verified: {how} passed for {domain} ({self.summary})"
        if judgment == Judgment.FAIL:
            if self.dmarc == "fail" and self.dmarc_policy in _ENFORCED:
                why = f"{domain} publishes DMARC p={self.dmarc_policy} and this message fails it"
            else:
                why = f"neither SPF nor DKIM passed for {domain}"
            return f"sender not verified: {why} ({self.summary})"
        return f"sender not verified: no SPF, DKIM or DMARC verdict for {domain} ({self.summary})"

    @property
    def summary(self) -> str:
        """``spf=fail (globex.example) dkim=none dmarc=fail (p=reject); from DNS``."""
        spf_about = ", ".join(part for part in (self.spf_domain, self.spf_comment) if part)
        spf = f"spf={self.spf}" + (f" ({spf_about})" if spf_about else "")
        dkim = f"dkim={self.dkim}" + (f" ({self.dkim_domain})" if self.dkim_domain else "")
        dmarc = f"dmarc={self.dmarc}" + (f" (p={self.dmarc_policy})" if self.dmarc_policy else "")
        return f"{spf} {dkim} {dmarc}; from {self.source}"


# ---- verify() ----------------------------------------------------------------------------

# Signatures checked per message: each costs a DNS lookup, an RSA operation and a pass
# over the body (0.17 s of CPU for a 10 MB body); real mail carries one to three (the
# author's domain, a list's, the sending service's).
MAX_SIGNATURES = 5
# The best DKIM result first: an aligned pass, then any pass; a temporary error before a
# failure (a DNS blip must not make a verdict of "fail").
_DKIM_RANK = ("pass", "temperror", "fail", "permerror", "policy", "neutral", "none")
_RESULTS = {
    "spf": {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"},
    "dkim": {"pass", "fail", "neutral", "none", "policy", "temperror", "permerror"},
    "dmarc": {"pass", "fail", "none", "temperror", "permerror"},
}
_POLICIES = ("none", "quarantine", "reject")
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_-]{1,63}")


def verify(
    raw: bytes,
    *,
    from_address: str,
    envelope_from: str | None,
    client_ip: str | None,
    helo: str = "",
) -> Verdict:
    """Check the sender of one message (see the module docstring). Never raises."""
    from_domain = domain_of(from_address)
    try:
        trusted = [item.lower() for item in settings.MAIL_TRUSTED_AUTHSERV_ID]
        if trusted:
            return _from_authentication_results(raw, trusted, from_domain)
        resolver = dnsresolver.shared(settings.MAIL_DNS_SERVERS)
        lookup = resolver.budget(settings.MAIL_VERIFY_SECONDS)
        return _from_dns(raw, lookup, from_domain, envelope_from, client_ip, helo)
    except Exception:  # a bug here must not stop the mail: no verdict, and the log says why
        logger.exception("checking the sender of a message failed")
        return Verdict(from_domain=from_domain, source="no check (an error, see the log)")


def domain_of(address: str | None) -> str:
    """The lower-case ASCII domain of an address or a bare domain ("" if there is none)."""
    try:
        text = str(address or "").strip().strip("<>").rpartition("@")[2].strip()
        text = text.rstrip(".").lower().encode("idna").decode("ascii") if text else ""
    except (UnicodeError, ValueError):
        return ""
    return text if _DOMAIN.fullmatch(text) else ""


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list the package ships: no network


def organizational_domain(domain: str) -> str:
    """RFC 7489 section 3.2: the registered domain (``mail.acme.example`` -> ``acme.example``)."""
    if not domain:
        return ""
    return _psl().privatesuffix(domain) or domain


def aligned(domain: str, from_domain: str, mode: str = "r") -> bool:
    """RFC 7489 section 3.1: the same domain (strict, ``s``) or organizational domain."""
    if not domain or not from_domain:
        return False
    if mode == "s":
        return domain == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


# ---- DNS: SPF ----

# pyspf asks DNS through its module-level function DNSLookup. We replace it once with one
# that asks the Lookup of the verify() call running in this thread or task (a context
# variable), and falls back to pyspf's own function when none is: nothing else in
# casedesk uses pyspf, and no global resolver setting is touched.
_spf_lookup: contextvars.ContextVar[Lookup | None] = contextvars.ContextVar(
    "casedesk_spf_lookup", default=None
)
_pyspf_dns = spf.DNSLookup


def _spf_dns(name: str, qtype: str, tcpfallback: bool = True, timeout: float = 30) -> list[Any]:
    lookup = _spf_lookup.get()
    if lookup is None:
        return list(_pyspf_dns(name, qtype, tcpfallback, timeout))
    try:
        answer = lookup.query(name, qtype)
    except DNSTempError as error:
        raise spf.TempError(f"DNS {error}") from None
    if answer is None:
        return []
    out: list[Any] = []
    for rdata in answer:
        if qtype in ("A", "AAAA"):
            value: Any = rdata.address
        elif qtype == "MX":
            value = (rdata.preference, rdata.exchange)
        elif qtype == "PTR":
            value = rdata.target.to_text(True)
        elif qtype in ("TXT", "SPF"):
            value = list(rdata.strings)
        else:
            continue
        out.append(((name, qtype), value))
    return out


spf.DNSLookup = _spf_dns


def _spf(
    lookup: Lookup, envelope_from: str | None, client_ip: str | None, helo: str
) -> tuple[str, str, str]:
    """(result, the domain checked, a comment when there is no result)."""
    sender = (envelope_from or "").strip().strip("<>")
    helo = (helo or "").strip()
    domain = domain_of(sender) if sender else domain_of(helo)
    if not client_ip:
        return "none", domain, "no client IP known"
    try:
        address = str(ipaddress.ip_address(str(client_ip).strip().strip("[]")))
    except ValueError:
        return "none", domain, "the client IP is not an address"
    if not domain:
        return "none", "", "no envelope sender or HELO domain"
    if sender and "@" not in sender:
        sender = f"postmaster@{sender}"
    token = _spf_lookup.set(lookup)
    try:
        query = spf.query(
            i=address, s=sender, h=helo or domain, timeout=settings.MAIL_VERIFY_SECONDS
        )
        result, _code, _explanation = query.check()
    except Exception as error:  # pyspf on input it did not expect
        logger.info("SPF check of %s failed: %s", domain, error)
        return "permerror", domain, ""
    finally:
        _spf_lookup.reset(token)
    result = str(result).lower()
    return (result if result in _RESULTS["spf"] else "none"), domain, ""


# ---- DNS: DKIM ----


class _DebugOnly(logging.LoggerAdapter):  # type: ignore[type-arg]
    """dkimpy logs every bad signature or key as an ERROR; in mail from strangers that is
    routine (and anyone could fill the log), so its messages are logged at DEBUG."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


_dkimpy_log = _DebugOnly(logging.getLogger("casedesk.mail.senders.dkimpy"), {})


@dataclass(frozen=True)
class _Signature:
    result: str
    domain: str


def _dkim(raw: bytes, lookup: Lookup) -> list[_Signature]:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if not re.search(rb"(?im)^dkim-signature[ \t]*:", head):
        return []
    try:
        message = dkim.DKIM(raw, minkey=1024, logger=_dkimpy_log)
    except Exception:  # dkimpy could not read the message's headers
        return [_Signature("permerror", "")]
    count = sum(1 for name, _ in message.headers if name.lower() == b"dkim-signature")
    return [_one_signature(message, index, lookup) for index in range(min(count, MAX_SIGNATURES))]


def _one_signature(message: dkim.DKIM, index: int, lookup: Lookup) -> _Signature:
    missing: list[str] = []

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", "replace").rstrip(".")
        records = lookup.txt(text)  # DNSTempError goes up, past dkimpy, to the caller
        if not records:
            missing.append(text)
            return None
        try:
            dkim.evaluate_pk(name, records[0])
        except Exception:  # dkimpy would say only "False": a bad key is a permerror
            missing.append(text)
        return records[0]

    try:
        prepared = message.verify_headerprep(index)
    except Exception:  # a signature missing tags, expired, or not tag=value at all
        return _Signature("permerror", _signature_domain(message, index))
    if not prepared:
        return _Signature("none", "")
    signature, include_headers, signature_headers = prepared
    domain = domain_of(signature.get(b"d", b"").decode("ascii", "replace"))
    try:
        good = message.verify_sig(signature, include_headers, signature_headers[index], dnsfunc)
    except DNSTempError:
        return _Signature("temperror", domain)
    except dkim.ValidationError:
        return _Signature("fail", domain)  # the body hash does not match
    except Exception:  # a bad key record, an unknown algorithm, ...
        return _Signature("permerror", domain)
    if missing:
        return _Signature("permerror", domain)  # no key or a bad one: RFC 6376 6.1.2
    return _Signature("pass" if good else "fail", domain)


def _signature_domain(message: dkim.DKIM, index: int) -> str:
    try:
        value = [v for n, v in message.headers if n.lower() == b"dkim-signature"][index]
        found = re.search(rb"(?:^|;)\s*d\s*=\s*([^;\s]+)", value)
        return domain_of(found.group(1).decode("ascii", "replace")) if found else ""
    except Exception:
        return ""


def _best(signatures: Sequence[_Signature], from_domain: str, mode: str = "r") -> _Signature:
    def rank(signature: _Signature) -> tuple[int, bool]:
        order = _DKIM_RANK.index(signature.result) if signature.result in _DKIM_RANK else 99
        return order, not aligned(signature.domain, from_domain, mode)

    return min(signatures, key=rank, default=_Signature("none", ""))


# ---- DNS: DMARC ----


@dataclass(frozen=True)
class DmarcRecord:
    """What one ``v=DMARC1`` record says (RFC 7489 section 6.3)."""

    domain: str  # where it was found: the From: domain or its organizational domain
    policy: str
    subdomain_policy: str
    adkim: str = "r"
    aspf: str = "r"

    def policy_for(self, from_domain: str) -> str:
        return self.subdomain_policy if from_domain != self.domain else self.policy


def parse_dmarc(text: str, domain: str) -> DmarcRecord | None:
    """The record, or None when it is not a usable DMARC record (RFC 7489 6.6.3 step 6: a
    missing or bad ``p=`` is read as ``p=none`` if the record asks for reports, else the
    record is not used)."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), value.strip())
    if tags.get("v") != "DMARC1" or not text.lstrip().startswith("v"):
        return None
    policy = tags.get("p", "").lower()
    if policy not in _POLICIES:
        if not tags.get("rua", "").lower().startswith("mailto:"):
            return None
        policy = "none"
    subdomain = tags.get("sp", "").lower()
    if subdomain not in _POLICIES:
        subdomain = policy
    adkim = "s" if tags.get("adkim", "").lower() == "s" else "r"
    aspf = "s" if tags.get("aspf", "").lower() == "s" else "r"
    return DmarcRecord(domain, policy, subdomain, adkim, aspf)


def _dmarc_record(lookup: Lookup, from_domain: str) -> tuple[DmarcRecord | None, str]:
    """(the record, "") or (None, the DMARC result: none, permerror or temperror)."""
    if not from_domain:
        return None, "none"
    organizational = organizational_domain(from_domain)
    places = [from_domain] + ([organizational] if organizational != from_domain else [])
    for domain in places:
        try:
            texts = lookup.txt(f"_dmarc.{domain}")
        except DNSTempError:
            return None, "temperror"
        texts = [t for t in texts if t.lstrip()[:8].lower() == b"v=dmarc1"]
        if len(texts) > 1:
            return None, "permerror"  # 6.6.3 step 5: several records, no DMARC
        if texts:
            record = parse_dmarc(texts[0].decode("ascii", "replace"), domain)
            return (record, "") if record else (None, "permerror")
    return None, "none"


def _from_dns(
    raw: bytes,
    lookup: Lookup,
    from_domain: str,
    envelope_from: str | None,
    client_ip: str | None,
    helo: str,
) -> Verdict:
    spf_result, spf_domain, spf_comment = _spf(lookup, envelope_from, client_ip, helo)
    signatures = _dkim(raw, lookup)
    record, dmarc_error = _dmarc_record(lookup, from_domain)
    adkim = record.adkim if record else "r"
    aspf = record.aspf if record else "r"
    best = _best(signatures, from_domain, adkim)
    verdict = Verdict(
        from_domain=from_domain,
        spf=spf_result,
        spf_domain=spf_domain,
        spf_aligned=aligned(spf_domain, from_domain, aspf),
        spf_comment=spf_comment,
        dkim=best.result,
        dkim_domain=best.domain,
        dkim_aligned=aligned(best.domain, from_domain, adkim),
    )
    if record is None:
        return replace(verdict, dmarc=dmarc_error)
    return replace(
        verdict,
        dmarc=_dmarc_result(verdict, signatures, from_domain, adkim),
        dmarc_policy=record.policy_for(from_domain),
    )


def _dmarc_result(
    verdict: Verdict, signatures: Sequence[_Signature], from_domain: str, adkim: str
) -> str:
    """RFC 7489 section 6.6.2: pass when SPF or a DKIM signature passed for an aligned
    domain; temperror when an aligned one could not be checked now; else fail. (Only
    aligned identifiers count, so a forger's own failing DNS cannot turn fail into
    temperror.)"""
    dkim_aligned = [s for s in signatures if aligned(s.domain, from_domain, adkim)]
    if (verdict.spf == "pass" and verdict.spf_aligned) or any(
        s.result == "pass" for s in dkim_aligned
    ):
        return "pass"
    if (verdict.spf == "temperror" and verdict.spf_aligned) or any(
        s.result == "temperror" for s in dkim_aligned
    ):
        return "temperror"
    return "fail"


# ---- The MTA's Authentication-Results ----


def _from_authentication_results(raw: bytes, trusted: Sequence[str], from_domain: str) -> Verdict:
    fields = _trusted_fields(raw, trusted)
    ids = ", ".join(trusted)
    if not fields:
        return Verdict(from_domain=from_domain, source=f"no Authentication-Results of {ids}")

    def of(method: str) -> list[authresults.Result]:
        """The method's results in the top-most field that has any: one field per method,
        so a field further down (a sender's, had the MTA not removed it) adds nothing."""
        for field in fields:
            found = [r for r in field.results if r.method == method]
            if found:
                return found
        return []

    def first(method: str) -> authresults.Result | None:
        return next(iter(of(method)), None)

    def word(method: str, result: authresults.Result | None) -> str:
        value = result.result if result else "none"
        value = {"hardfail": "fail"}.get(value, value)
        return value if value in _RESULTS[method] else "none"

    dmarc = first("dmarc")
    if not from_domain and dmarc:
        from_domain = domain_of(dmarc.properties.get("header.from", ""))
    spf_result = first("spf")
    spf_domain = ""
    if spf_result:
        spf_domain = domain_of(
            spf_result.properties.get("smtp.mailfrom")
            or spf_result.properties.get("smtp.mfrom")  # RFC 5451's older name, still seen
            or spf_result.properties.get("smtp.helo")
        )
    signatures = [
        _Signature(
            word("dkim", r),
            domain_of(r.properties.get("header.d") or r.properties.get("header.i", "")),
        )
        for r in of("dkim")
    ]
    best = _best(signatures, from_domain)
    return Verdict(
        from_domain=from_domain,
        spf=word("spf", spf_result),
        spf_domain=spf_domain,
        spf_aligned=aligned(spf_domain, from_domain),
        dkim=best.result,
        dkim_domain=best.domain,
        dkim_aligned=aligned(best.domain, from_domain),
        dmarc=word("dmarc", dmarc),
        dmarc_policy=_arh_policy(dmarc) if dmarc else "",
        source=f"Authentication-Results of {fields[0].authserv_id}",
    )


def _trusted_fields(raw: bytes, trusted: Sequence[str]) -> list[authresults.AuthenticationResults]:
    """The trusted authserv-id's fields at the top of the header: from the first one down
    to the next ``Received:`` (the hop before ours, where anything is the sender's), top
    first."""
    try:
        header = BytesHeaderParser(policy=compat32).parsebytes(raw)
        items = header.items()
    except Exception:
        return []
    found: list[authresults.AuthenticationResults] = []
    for name, value in items:
        lowered = str(name).strip().lower()
        if lowered == "received" and found:
            break
        if lowered != "authentication-results":
            continue
        parsed = authresults.parse(re.sub(r"\r?\n[ \t]", " ", str(value)))
        if parsed is not None and parsed.authserv_id in trusted:
            found.append(parsed)
    return found


_POLICY_WORD = re.compile(r"\b(?:p|policy)\s*=\s*(none|quarantine|reject)\b", re.IGNORECASE)


def _arh_policy(result: authresults.Result) -> str:
    """The DMARC policy an MTA wrote: ``policy.dmarc=reject`` (RFC 8601 registry), or
    ``(p=reject dis=none)``/``(policy=reject)`` in a comment, as OpenDMARC, Gmail and
    rspamd write it."""
    for key in ("policy.dmarc", "policy.p", "p", "policy"):
        value = result.properties.get(key, "").lower()
        if value in _POLICIES:
            return value
    for comment in result.comments:
        found = _POLICY_WORD.search(comment)
        if found:
            return found.group(1).lower()
    return ""
