"""CSV cells never start a spreadsheet formula (CSV injection)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk.lib.spreadsheet import FORMULA_STARTS, csv_response, safe_cell

pytestmark = pytest.mark.no_database  # pure helpers: the PostgreSQL pass skips it


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://example.com")', '\'=HYPERLINK("http://example.com")'),
        ("+15555550101", "'+15555550101"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Acme", "Acme"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_formula_starts_get_an_apostrophe(text: str, cell: str) -> None:
    assert safe_cell(text) == cell


@given(st.text())
def test_no_cell_starts_a_formula_and_nothing_is_lost(text: str) -> None:
    cell = safe_cell(text)
    assert cell[:1] not in FORMULA_STARTS
    assert cell in (text, "'" + text)


def test_a_csv_download_starts_with_a_byte_order_mark_so_excel_reads_utf8() -> None:
    response = csv_response("organization\r\nZürich Café\r\n", "fees-2026-11.csv")
    assert response.content == "\ufefforganization\r\nZürich Café\r\n".encode()
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="fees-2026-11.csv"'
