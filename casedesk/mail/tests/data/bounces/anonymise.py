"""Anonymise a real bounce before it goes into this folder (see SOURCES.md).

Usage, from the repository root::

    python casedesk/mail/tests/data/bounces/anonymise.py SOURCE FILE... [--name NAME]
    python casedesk/mail/tests/data/bounces/anonymise.py --check

The first form writes each FILE here as ``<SOURCE>-<its name without extension>.eml``
and prints what is left for a person to review (anything with an "@", dotted quads,
long digit runs). ``--check`` only prints that review list for every ``.eml`` here.

What it changes, and nothing else (the bytes around are kept as they were, so a
missing MIME boundary or a strange status line stays missing or strange):

- every domain with a real top-level domain becomes a ``*.example`` name: the big
  providers and mail gateways keep their name as the first label (``yahoo.com`` ->
  ``yahoo.example``) so a reader still sees whose bounce it is; any other domain
  becomes ``d`` and six hex digits of its SHA-256 (``d3f0c1a.example``). Host labels
  in front of the registrable domain are kept (``mx1.``, ``mail.``). The same domain
  always gets the same name, in every file and for every contributor (no salt);
- the local part of each address becomes ``u`` and six hex digits of the SHA-256 of
  the address, except role parts (MAILER-DAEMON, postmaster, ...), which stay; the
  new local part also replaces the old one where the text names it alone;
- already reserved names (example.com/.net/.org, ``*.example``, ``*.test``,
  ``*.invalid``, ``localhost``) are kept;
- IPv4 addresses go to the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
  203.0.113.0/24), IPv6 ones into 2001:db8::/32; loopback stays;
- display names in From/To/Cc/Reply-To/Sender that are not a service's name become
  "Alex Example" (personal names in the text are for the reviewer to replace).

Phone numbers and names inside the text are not recognised: review the output.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Big providers and security gateways: their bounces are a shape of their own, so the
# name stays readable (as a *.example name, which is reserved).
KNOWN = {
    "aol",
    "amazonaws",
    "amazonses",
    "apple",
    "att",
    "barracuda",
    "barracudanetworks",
    "bigpond",
    "bluewin",
    "btinternet",
    "charter",
    "comcast",
    "cox",
    "earthlink",
    "facebook",
    "free",
    "gmail",
    "gmx",
    "google",
    "googlemail",
    "hotmail",
    "icloud",
    "juno",
    "live",
    "mac",
    "mail",
    "mailchimp",
    "me",
    "messagelabs",
    "microsoft",
    "mimecast",
    "msn",
    "netscape",
    "orange",
    "outlook",
    "postfix",
    "proofpoint",
    "qmail",
    "sendgrid",
    "sendmail",
    "sina",
    "spectrum",
    "verizon",
    "wanadoo",
    "web",
    "yahoo",
    "yandex",
    "zoho",
    "exim",
    "office365",
    "protection",
    "pphosted",
    "ppe-hosted",
    "symantec",
    "cloudflare",
    "docomo",
}
TLDS = (
    "com net org edu gov mil int info biz name mobi pro aero coop museum asia jobs tel travel "
    "us uk de fr it es nl be ch at se no dk fi pl cz sk hu ro bg gr pt ie ru ua by kz lt lv ee "
    "jp cn kr tw hk sg my id ph th vn in au nz ca mx br ar cl co pe ve za il tr eu io cc tv ws "
    "me su ae sa qa ir pk bd lk np ng ke eg ma tn dz is lu li mt cy si hr rs ba mk al md ge am "
    "az uz cr pa do pr gt hn ni sv ec bo uy com.py net.py org.py"
).split()
SECOND_LEVEL = {"co", "com", "ne", "or", "ac", "go", "net", "org", "gov", "edu", "gr", "ad", "ed"}
RESERVED = re.compile(
    r"(^|\.)(example\.(com|net|org)|example|test|invalid|localhost|localdomain|local)$", re.I
)
ROLES = {
    "mailer-daemon",
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
    "root",
    "daemon",
    "nobody",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "bounce",
    "bounces",
    "double-bounce",
    "mailman",
    "majordomo",
    "listserv",
    "info",
    "admin",
    "support",
    "sales",
    "owner",
    "request",
    "notifications",
    "notification",
    "security",
    "complaints",
    "feedback",
    "fbl",
    "arf",
    "scomp",
    "staff",
    "spam",
    "undisclosed-recipients",
    "recipient",
    "sender",
    "user",
    "test",
}
# Any two letters is a country's domain, except what is more often a file name's ending.
NOT_TLDS = {
    "py",
    "sh",
    "pm",
    "md",
    "rs",
    "js",
    "ts",
    "so",
    "ps",
    "cs",
    "mo",
    "po",
    "db",
    "gz",
    "hs",
    "rb",
    "ml",
    "go",
    "xz",
}
# Local parts that are also words of a bounce's text ("a ph alias, name or nickname"):
# the address is replaced, the word alone is left.
WORDS = set(
    "name email alias nickname party account mailbox someone anyone person userid login "
    "address recipient list users members everyone".split()
)
_TLD = (
    "|".join(sorted(TLDS, key=len, reverse=True))
    + "|(?!(?:"
    + "|".join(sorted(NOT_TLDS))
    + r")\b)[a-z]{2}"
)
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"  # "_": list ids (wed_ride.)
# A domain ends where no label goes on; "--" after it (a MIME boundary's closing
# delimiter, "--id/host.example.com--") does not go on.
DOMAIN = re.compile(
    rf"(?<![A-Za-z0-9_.-])((?:{_LABEL}\.)+(?:{_TLD}))(?![A-Za-z0-9_]|-(?!-))(?!\.[A-Za-z0-9])",
    re.I,
)
ADDRESS = re.compile(
    # Not after "@" or a backslash (Postmaster\@host@domain names no address of "host");
    # a quote before it is not part of it ('user@example.org').
    r"(?<![A-Za-z0-9.!#$%&*+/=?^_`{|}~@\\-])([A-Za-z0-9_][A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]*)@"
    r"((?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+)"
)
IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")
IPV6 = re.compile(
    r"(?<![\w:])(?=[0-9a-f:]*[a-f0-9]{3})(?:[0-9a-f]{1,4}:){2,7}(?::|[0-9a-f]{1,4})"
    r"(?:(?::[0-9a-f]{1,4}){0,7})(?![\w:])",
    re.I,
)
DISPLAY_HEADERS = re.compile(
    rb"^(From|To|Cc|Reply-To|Sender|Disposition-Notification-To|Return-Receipt-To|Errors-To"
    rb"|Old-From|Resent-From|Resent-To):[ \t]*(.*)$",
    re.I | re.M,
)
SERVICE_WORDS = re.compile(
    r"mail|deliver|system|daemon|postmaster|subsystem|administrator|service|team|notif|"
    r"outlook|microsoft|google|yahoo|gateway|server|returned|undeliver|auto|support|admin|"
    r"abuse|amazon|ses|example",
    re.I,
)


def _hex(value: str, length: int = 6) -> str:
    return hashlib.sha256(value.lower().encode("utf-8", "surrogateescape")).hexdigest()[:length]


def registrable(domain: str) -> tuple[str, str]:
    """(host labels in front, the registrable domain) of a lower-case domain."""
    labels = domain.split(".")
    take = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVEL else 2
    return ".".join(labels[:-take]), ".".join(labels[-take:])


def map_domain(domain: str) -> str:
    lower = domain.lower()
    if RESERVED.search(lower) or "." not in lower:
        return domain
    hosts, base = registrable(lower)
    first = base.split(".")[0]
    new = f"{first}.example" if first in KNOWN else f"d{_hex(base)}.example"
    return f"{hosts}.{new}" if hosts else new


def map_local(local: str, domain: str) -> str:
    lower = local.lower()
    if lower in ROLES or lower.startswith(("owner-", "bounce-", "bounces-", "bounces+")):
        return local
    made_up = "u" + _hex(f"{local}@{domain}")
    roles = sorted((r for r in ROLES if len(r) > 3), key=lambda r: (-len(r), r))
    # A list's own addresses keep their role: python-list-admin -> u1a2b3c-admin first,
    # then mailman-users -> mailman-u1a2b3c.
    for role in roles:
        if any(lower.endswith(sep + role) for sep in "-+.="):
            return made_up + local[-len(role) - 1 :]
    for role in roles:
        if any(lower.startswith(role + sep) for sep in "-+.="):
            return local[: len(role) + 1] + made_up
    return made_up


def map_ipv4(match: re.Match[str]) -> str:
    octets = [int(g) for g in match.groups()]
    if any(o > 255 for o in octets):
        return match.group(0)
    if (
        octets[0] == 127
        or octets == [0, 0, 0, 0]
        or octets[:3] in ([192, 0, 2], [198, 51, 100], [203, 0, 113])
    ):
        return match.group(0)
    digest = int(_hex(match.group(0), 8), 16)
    net = ("192.0.2", "198.51.100", "203.0.113")[digest % 3]
    return f"{net}.{1 + (digest >> 2) % 254}"


def map_ipv6(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.count(":") < 2 or text.lower().startswith("2001:db8") or text == "::1":
        return text
    digest = _hex(text, 8)
    return f"2001:db8::{digest[:4]}:{digest[4:]}"


NEUTRAL_NAMES = (
    "Alex Example",
    "Sam Sample",
    "Robin Test",
    "Kim Placeholder",
    "Jo Doe",
    "Pat Person",
    "Chris Client",
    "Lee Reader",
)


def neutral_name(name: str) -> str:
    """The same made-up name for the same real one (a single word gets a single word)."""
    made_up = NEUTRAL_NAMES[int(_hex(name, 4), 16) % len(NEUTRAL_NAMES)]
    return made_up if " " in name.strip() else made_up.split()[0]


def anonymise(raw: bytes, people: list[str] = ()) -> bytes:  # type: ignore[assignment]
    """``raw`` with its addresses, domains and IPs replaced (see the module docstring);
    each name in ``people`` (found by reading the message) becomes a neutral one."""
    text = raw.decode("latin-1")  # one character per byte: every other byte is kept
    for person in sorted(people, key=len, reverse=True):
        text = text.replace(person, neutral_name(person))
    locals_seen: dict[str, str] = {}

    def address(match: re.Match[str]) -> str:
        local, domain = match.group(1), match.group(2)
        if RESERVED.search(domain.lower()):
            return match.group(0)
        if re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", domain):  # postmaster@192.0.2.1
            return f"{map_local(local, domain)}@{domain}"  # the IP is mapped below
        new_local = map_local(local, domain)
        if new_local != local and len(local) >= 4:
            locals_seen[local] = new_local
        return f"{new_local}@{map_domain(domain)}"

    text = ADDRESS.sub(address, text)
    text = DOMAIN.sub(lambda m: map_domain(m.group(1)), text)
    for old, new in sorted(locals_seen.items(), key=lambda item: -len(item[0])):
        if old.lower() in ROLES | WORDS or DOMAIN.fullmatch(old):
            continue
        # The local part alone ("mailbox jsmith is full"), never inside an address.
        text = re.sub(
            rf"(?<![A-Za-z0-9._%+@\\-]){re.escape(old)}(?![A-Za-z0-9_%+@-]|\.[A-Za-z0-9])",
            new,
            text,
            flags=re.I,
        )
    text = IPV4.sub(map_ipv4, text)
    text = IPV6.sub(map_ipv6, text)
    out = text.encode("latin-1")

    def display(match: re.Match[bytes]) -> bytes:
        name, value = match.group(1), match.group(2)
        comment = re.match(rb"^(\s*<?[^\s<>()]+@[^\s<>()]+>?\s*)\(([^()]+)\)(\s*)$", value)
        if comment is not None:  # the old form: address (Name)
            if SERVICE_WORDS.search(comment.group(2).decode("latin-1")):
                return match.group(0)
            return name + b": " + comment.group(1) + b"(Alex Example)" + comment.group(3)
        person = re.match(rb'^\s*("?)([^"<>@]+?)\1\s*(<.*)$', value)
        if person is None or SERVICE_WORDS.search(person.group(2).decode("latin-1")):
            return match.group(0)
        quote = person.group(1)
        return name + b": " + quote + b"Alex Example" + quote + b" " + person.group(3)

    return DISPLAY_HEADERS.sub(display, out)


SUSPECT = re.compile(
    rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\+?\d[\d ()-]{8,}\d"
)


def review(path: Path) -> list[str]:
    """What a person should look at in ``path``: addresses, dotted quads, digit runs."""
    found = []
    for match in SUSPECT.finditer(path.read_bytes()):
        token = match.group(0).decode("latin-1")
        domain = token.rpartition("@")[2]
        if "@" in token and ("." not in domain or RESERVED.search(domain.lower())):
            continue
        if "@" in token and re.match(r"^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d+$", domain):
            continue
        if re.match(r"^(127\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)", token):
            continue
        found.append(token)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", help="the source's short name: bounceparser, ...")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--name", help="the file name to write (one FILE only)")
    parser.add_argument(
        "--person", action="append", default=[], help="a personal name to replace (repeat)"
    )
    parser.add_argument("--check", action="store_true", help="only review the files here")
    args = parser.parse_args(argv)
    if args.check:
        targets = sorted(HERE.glob("*.eml"))
    else:
        if not args.source or not args.files:
            parser.error("give SOURCE and at least one FILE, or --check")
        targets = []
        for path in args.files:
            stem = args.name or (
                path.stem if path.suffix in (".msg", ".eml", ".txt") else path.name
            )
            target = HERE / f"{args.source}-{stem}.eml"
            target.write_bytes(anonymise(path.read_bytes(), args.person))
            targets.append(target)
    for target in targets:
        for token in review(target):
            print(f"{target.name}: {token}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
