"""Cells for CSV files that people open in a spreadsheet.

Pure Python, like the rest of ``casedesk.lib``.
"""

from __future__ import annotations

# A cell starting with one of these is read as a formula by Excel, LibreOffice and
# Google Sheets (OWASP "CSV injection"); tab and carriage return start one in some.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text``, with a leading apostrophe if a spreadsheet would take it for a formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text
