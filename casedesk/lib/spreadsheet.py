"""Cells for CSV files that people open in a spreadsheet.

``safe_cell`` is pure Python; ``csv_response`` wraps a CSV body in Django's response.
"""

from __future__ import annotations

from django.http import HttpResponse

# A cell starting with one of these is read as a formula by Excel, LibreOffice and
# Google Sheets (OWASP "CSV injection"); tab and carriage return start one in some.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text``, with a leading apostrophe if a spreadsheet would take it for a formula."""
    return "'" + text if text[:1] in FORMULA_STARTS else text



# Excel opens a CSV without a byte-order mark as Windows-1252: "Zürich" shows as "ZÃ¼rich".
BOM = "\ufeff"


def csv_response(body: str, filename: str) -> HttpResponse:
    """A CSV download that every spreadsheet opens as UTF-8: ``body`` after a byte-order mark.

    ``filename`` is ours (ASCII, no quotes), never the user's.
    """
    response = HttpResponse(BOM + body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
