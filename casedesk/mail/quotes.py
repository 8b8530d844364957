"""Trim the quoted history from a reply, so the timeline shows what the person wrote.

Heuristics in the order mail clients produce them, checked against replies from
eleven clients (talon's fixtures in ``../shared/corpora/talon``):

1. An attribution line that introduces the quote: "On <date>, <name> wrote:"
   (Gmail, Apple Mail, Thunderbird, iPhone, Android; it may wrap over two lines),
   in English and a few other languages;
2. a separator: "-----Original Message-----", "----- Original Message -----",
   "________________________________" (Outlook), "--- Reply above this line ---";
3. an Outlook header block: "From:" followed within a few lines by "Sent:" or
   "Date:" and "To:" or "Subject:";
4. a run of lines starting with ">" that reaches the end of the message.

Everything from the first cut on is dropped, then a trailing "Sent from my ..."
or signature separator stays (it is part of what the person sent). The full
message is kept; only the timeline shows the trimmed text. When trimming would
leave nothing, the whole text is kept.
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^\s*(On|Am|Le|El|Il|Op|Em|Den)\b.{0,200}?"
    r"(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev)\s*:\s*$",
    re.IGNORECASE | re.DOTALL,
)
# Any line ending in "wrote:" in one of these languages, when a ">" quote follows it
# (Android's "02.04.2012 14:20 пользователь "bob" <bob@example.com> написал:").
_WROTE = re.compile(
    r"(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|написал|написала)"
    r"(\s+[^:\n]{1,80})?\s*:\s*$",  # German puts the name after the verb
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original|Forwarded message)\s*-{2,}|_{20,}|-{3,}\s*Reply above this line\s*-{3,})"
    r"\s*$",
    re.IGNORECASE,
)
_HEADER_START = re.compile(r"^\s*\*?(From|Von|De|Da)\s*:\*?\s", re.IGNORECASE)
_HEADER_FOLLOW = re.compile(
    r"^\s*\*?(Sent|Date|Gesendet|Envoyé|Enviado|To|An|À|Subject|Betreff|Objet|Cc)\s*:",
    re.IGNORECASE,
)


def trim_quoted(text: str) -> str:
    lines = (text or "").replace("\r\n", "\n").split("\n")
    cut = _first_cut(lines)
    if cut is None:
        return text.strip()
    kept = "\n".join(lines[:cut]).rstrip()
    if not kept.strip():
        # Bottom-posted (Thunderbird's habit): the quote comes first, the answer after it.
        after = [line for line in lines[cut + 1 :] if not line.lstrip().startswith(">")]
        kept = "\n".join(after).strip()
    return kept if kept.strip() else text.strip()


def _first_cut(lines: list[str]) -> int | None:
    # The last line that is neither blank nor quoted: a ">" line after it starts the
    # trailing quote (found once, so a reply of 20,000 quoted lines costs a linear pass,
    # not the 20 s that checking the rest of the message at every line took).
    last_unquoted = max(
        (i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(">")),
        default=-1,
    )
    for index, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return index
        if _ATTRIBUTION.match(line):
            return index
        # An attribution wrapped over two lines: "On Mon, Apr 2, 2012 at 6:26 PM, Megan"
        # / "One <x@example.com> wrote:".
        if index + 1 < len(lines) and re.match(r"^\s*(On|Am|Le|El)\b", line, re.IGNORECASE):
            if _ATTRIBUTION.match(line + " " + lines[index + 1]):
                return index
        candidates = [(line, 1)]
        if index + 1 < len(lines) and not lines[index + 1].lstrip().startswith(">"):
            candidates.append((line + " " + lines[index + 1], 2))
        for joined, span in candidates:
            if _WROTE.search(joined) and _quote_follows(lines, index + span):
                return index
        if _HEADER_START.match(line) and _outlook_block(lines, index):
            return index
        if index > last_unquoted and line.lstrip().startswith(">"):
            return index
    return None


def _quote_follows(lines: list[str], start: int) -> bool:
    for line in lines[start : start + 3]:
        if line.strip():
            return line.lstrip().startswith(">")
    return False


def _outlook_block(lines: list[str], start: int) -> bool:
    follows = sum(1 for line in lines[start + 1 : start + 6] if _HEADER_FOLLOW.match(line))
    return follows >= 2
