"""The share of real bounces the mail pipeline recognises (issue 17, section 2).

Run from the repository root::

    python bench/bounces.py [--corpora ../shared/corpora] [--quiet]

Reads every message of ``casedesk/mail/tests/data/bounces/`` and the delivery reports
of ``../shared/corpora`` that its ``manifest.toml`` names (skipped, with a line saying
so, when that folder is absent), and runs what the worker runs to tell a bounce: the
parse (``mail.process.read``, within the same limits) and ``mail.rules.delivery_failures``
with the envelope sender the message came with. No database.

A bounce counts as **recognised** when it is taken for a bounce and the failed address
the manifest names (or one of them) is among the recorded failures; the status class
(4 or 5) is reported beside it. A message that is not a bounce must not be taken for
one. Prints the share recognised overall and by shape, the look-alikes taken for
bounces and every miss and why. The messages marked ``heldout = true`` in the manifest
(added after the code was tuned, their expectations written before it ran on them) get a
table of their own: the held-out share, the honest figure.

Targets (issue 17, set on a held-out collection), each on a closing line with pass or
MISS, for the whole collection and again for the held-out part: at least 95% of the
bounces recognised, and no look-alike taken for a bounce.

``test_bounce_corpus.py`` runs the same messages through the whole pipeline (stored,
processed by the worker, no case, no auto-reply, no page) and marks today's misses.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casedesk.settings")

from _verdict import verdict  # noqa: E402
from tqdm import tqdm  # noqa: E402

DATA = ROOT / "casedesk" / "mail" / "tests" / "data" / "bounces"
CORPORA = ROOT.parent / "shared" / "corpora"
TARGET = 0.95
SHAPES = ("dsn", "dsn-broken", "plain-text", "auto-submitted", "ses-json", "gateway", "provider")


@dataclass
class Result:
    name: str
    entry: dict[str, Any]
    taken: bool  # taken for a bounce
    address: bool = False  # the expected address is among the failures
    status: bool = False  # ... with the expected status class
    got: str = ""  # what was recorded, for the list of misses

    @property
    def recognised(self) -> bool:
        return self.taken and self.address


def check(name: str, entry: dict[str, Any], raw: bytes) -> Result:
    from casedesk.mail import rules
    from casedesk.mail.process import read

    parsed = read(raw)
    failures = rules.delivery_failures(parsed, entry.get("envelope_from"))
    got = ", ".join(f"{f.address or '(none)'} {f.action} {f.status}" for f in failures[:3])
    if not failures:
        automated = rules.automation(parsed, entry.get("envelope_from"))
        got = f"not a bounce ({automated.reason or 'a person'}; From {parsed.from_address!r})"
    result = Result(name, entry, taken=bool(failures), got=got)
    if entry["bounce"] and failures:
        wanted = {a.lower() for a in [entry["address"], *entry.get("others", [])]}
        # The pipeline records the address we sent to and, for a forwarded one, where it
        # was forwarded (the report's Final-Recipient): either counts, as in the test.
        hits = [f for f in failures if {f.address.lower(), f.final.lower()} & wanted]
        result.address = bool(hits)
        result.status = any(f.status[:1] == entry["status"][:1] for f in hits)
    return result


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else "0/0"


def closing(bounces: list[Result], others: list[Result], part: str) -> None:
    """The two targets' lines for these bounces and look-alikes."""
    right = sum(r.recognised for r in bounces)
    verdict(
        f"{part}bounces recognised",
        share(right, len(bounces)),
        f">= {TARGET:.0%}",
        bool(bounces) and right >= TARGET * len(bounces),
    )
    taken = sum(r.taken for r in others)
    verdict(f"{part}look-alikes taken for a bounce", share(taken, len(others)), "0", not taken)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA, help="../shared/corpora")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()

    import django

    django.setup()

    entries = tomllib.loads((DATA / "manifest.toml").read_text("utf-8"))["message"]
    todo: list[tuple[str, dict[str, Any], Path]] = []
    skipped = 0
    for entry in entries:
        if "file" in entry:
            todo.append((entry["file"], entry, DATA / entry["file"]))
        elif (args.corpora / entry["corpus"]).is_file():
            todo.append((entry["corpus"], entry, args.corpora / entry["corpus"]))
        else:
            skipped += 1
    results = [
        check(name, entry, path.read_bytes())
        for name, entry, path in tqdm(todo, desc="messages", unit="msg", disable=args.quiet)
    ]
    if skipped:
        print(f"{skipped} messages of {args.corpora} not found: left out")

    bounces = [r for r in results if r.entry["bounce"]]
    others = [r for r in results if not r.entry["bounce"]]
    print(f"\n{len(bounces)} bounces, {len(others)} look-alikes ({len(results)} messages)\n")
    print(f"{'shape':<16}{'taken for a bounce':>22}{'recognised':>22}{'+ status class':>22}")
    by_shape: dict[str, list[Result]] = defaultdict(list)
    for r in bounces:
        by_shape[r.entry["shape"]].append(r)
    for shape in [*SHAPES, "all"]:
        group = bounces if shape == "all" else by_shape.get(shape, [])
        if not group:
            continue
        taken = sum(r.taken for r in group)
        right = sum(r.recognised for r in group)
        status = sum(r.recognised and r.status for r in group)
        print(
            f"{shape:<16}{share(taken, len(group)):>22}{share(right, len(group)):>22}"
            f"{share(status, len(group)):>22}"
        )

    mistaken = [r for r in others if r.taken]
    print(f"\nlook-alikes taken for a bounce: {share(len(mistaken), len(others))}")
    for r in mistaken:
        held = ", held out" if r.entry.get("heldout") else ""
        print(f"  {r.name} ({r.entry['what']}{held}): {r.got}")

    misses = [r for r in bounces if not r.recognised]
    wrong_class = [r for r in bounces if r.recognised and not r.status]
    print(f"\nbounces missed: {len(misses)}")
    for r in sorted(misses, key=lambda r: (r.entry["shape"], r.name)):
        held = " (held out)" if r.entry.get("heldout") else ""
        print(f"  [{r.entry['shape']}] {r.name}{held}: want {r.entry['address']}; got {r.got}")
    print(f"\nrecognised, but with the other status class: {len(wrong_class)}")
    for r in sorted(wrong_class, key=lambda r: r.name):
        print(f"  {r.name}: want {r.entry['status']}; got {r.got}")

    held_bounces = [r for r in bounces if r.entry.get("heldout")]
    held_others = [r for r in others if r.entry.get("heldout")]
    if held_bounces or held_others:
        print("\nheld out (never seen while the code was tuned; manifest heldout = true):")
        print(f"{'shape':<16}{'taken for a bounce':>22}{'recognised':>22}{'+ status class':>22}")
        for shape in [*SHAPES, "all"]:
            group = (
                held_bounces
                if shape == "all"
                else [r for r in held_bounces if r.entry["shape"] == shape]
            )
            if not group:
                continue
            print(
                f"{shape:<16}{share(sum(r.taken for r in group), len(group)):>22}"
                f"{share(sum(r.recognised for r in group), len(group)):>22}"
                f"{share(sum(r.recognised and r.status for r in group), len(group)):>22}"
            )

    print()
    closing(bounces, others, "")
    if held_bounces or held_others:
        closing(held_bounces, held_others, "held-out ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
