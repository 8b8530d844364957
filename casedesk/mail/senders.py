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
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk.mail.models import SenderCheck as Judgment

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
        spf = f"spf={self.spf}" + (f" ({self.spf_domain})" if self.spf_domain else "")
        dkim = f"dkim={self.dkim}" + (f" ({self.dkim_domain})" if self.dkim_domain else "")
        dmarc = f"dmarc={self.dmarc}" + (f" (p={self.dmarc_policy})" if self.dmarc_policy else "")
        return f"{spf} {dkim} {dmarc}; from {self.source}"
