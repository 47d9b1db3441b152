"""Pass images as a scanner and a reader meet them: the QR codes decoded back to the codes (from
the PNG, and from each page of the PDF rendered as pdfium renders it), the page's text as a PDF
reader extracts it, and the SVG as XML."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from orders.pass_codes import PassClaims, PassKeys, generate_signing_key
from orders.pass_images import PassSheet, passes_pdf, qr_png, qr_svg, starts_at_text
from tixtest.scanning import pdf_pages, qr_codes

STARTS_AT = datetime(2026, 3, 14, 20, 0, tzinfo=UTC)
ORDER_ID = "65f1c0ffee0000000000abcd"
TICKET_ID = "65f1c0ffee00000000001234"


@pytest.fixture(scope="module")
def keys() -> PassKeys:
    return PassKeys.from_settings(generate_signing_key())


def codes_of(keys: PassKeys, of: int) -> list[str]:
    return [
        keys.sign(PassClaims(pass_id=f"{seat:024x}", ticket_id=TICKET_ID, seat=seat, of=of))
        for seat in range(1, of + 1)
    ]


def sheet(code: str, seat: int, of: int, **changes: object) -> PassSheet:
    fields: dict[str, object] = {
        "event_title": "The Mountain Goats",
        "venue": "Le Zénith, Paris",
        "starts_at": STARTS_AT,
        "seat": seat,
        "of": of,
        "buyer_email": "buyer@tixvibe.dev",
        "code": code,
        "order_id": ORDER_ID,
    }
    return PassSheet(**(fields | changes))  # type: ignore[arg-type]


def pages_of(pdf: bytes) -> list[tuple[list[str], str]]:
    """Each page's decoded QR codes and its text (whitespace runs as one space)."""
    return [(page.codes, page.text) for page in pdf_pages(pdf, scale=2)]


def test_the_png_decodes_to_the_code(keys: PassKeys) -> None:
    code = codes_of(keys, 1)[0]
    image = Image.open(io.BytesIO(qr_png(code)))
    [barcode] = zxingcpp.read_barcodes(image)
    assert barcode.text == code
    assert (barcode.format, barcode.ec_level) == (zxingcpp.BarcodeFormat.QRCode, "M")
    # Version 8 is 49 modules a side, and the quiet zone 4 more on each side, 8 pixels a module.
    assert image.size == ((49 + 8) * 8, (49 + 8) * 8)


def test_a_small_png_still_decodes(keys: PassKeys) -> None:
    code = codes_of(keys, 1)[0]
    assert qr_codes(Image.open(io.BytesIO(qr_png(code, scale=2)))) == [code]


def test_the_svg_is_an_svg_document_that_scales(keys: PassKeys) -> None:
    root = ET.fromstring(qr_svg(codes_of(keys, 1)[0]))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("viewBox") == "0 0 57 57"
    assert root.get("width") is None
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_the_pdf_has_a_page_per_pass_whose_qr_codes_decode_in_order(keys: PassKeys) -> None:
    codes = codes_of(keys, 4)
    pdf = passes_pdf([sheet(code, seat, 4) for seat, code in enumerate(codes, start=1)])

    pages = pages_of(pdf)
    assert [page_codes for page_codes, _ in pages] == [[code] for code in codes]
    width, height = pdfium.PdfDocument(pdf)[0].get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (105, 148)


def test_a_page_says_the_event_the_seat_and_the_buyer(keys: PassKeys) -> None:
    codes = codes_of(keys, 4)
    pdf = passes_pdf([sheet(code, seat, 4) for seat, code in enumerate(codes, start=1)])

    _, text = pages_of(pdf)[1]
    for expected in (
        "The Mountain Goats",
        "Le Zénith, Paris",
        "Sat 14 Mar 2026, 20:00 UTC",
        "Seat 2 of 4",
        "buyer@tixvibe.dev",
        f"Order {ORDER_ID}",
    ):
        assert expected in text
    assert "Seat 1 of 4" not in text
    # The code is printed too, for a door with no camera: cut into lines, nothing left out.
    assert codes[1] in text.replace(" ", "")


def test_a_title_in_other_scripts_renders_and_extracts(keys: PassKeys) -> None:
    title = "Café Ολυμπία — Концерт, Ñandú & Øresund: ½ price ★"
    [code] = codes_of(keys, 1)
    [(page_codes, text)] = pages_of(passes_pdf([sheet(code, 1, 1, event_title=title)]))
    assert page_codes == [code]
    assert title in text


def test_characters_the_font_cannot_draw_are_replaced_not_fatal(keys: PassKeys) -> None:
    [code] = codes_of(keys, 1)
    title = "Rock 🎸🎸 in 東京 e\u0301te\u0301\u200b\x07"
    [(page_codes, text)] = pages_of(passes_pdf([sheet(code, 1, 1, event_title=title)]))
    assert page_codes == [code]
    # A run of what has no glyph is one U+FFFD; a decomposed accent is composed; a control
    # character is a space.
    assert "Rock \ufffd in \ufffd été" in text


def test_a_long_title_is_cut_to_fit_its_page(keys: PassKeys) -> None:
    codes = codes_of(keys, 2)
    title = "An extraordinarily long evening of music " * 5
    pages = pages_of(
        passes_pdf(
            [sheet(code, seat, 2, event_title=title) for seat, code in enumerate(codes, start=1)]
        )
    )
    assert [page_codes for page_codes, _ in pages] == [[code] for code in codes]
    _, text = pages[0]
    assert "An extraordinarily long evening" in text
    assert "\u2026" in text
    assert "Seat 1 of 2" in text
    assert "buyer@tixvibe.dev" in text


def test_a_pass_without_venue_or_start_leaves_them_out(keys: PassKeys) -> None:
    [code] = codes_of(keys, 1)
    [(page_codes, text)] = pages_of(
        passes_pdf([sheet(code, 1, 1, venue=None, starts_at=None, event_title="Open air")])
    )
    assert page_codes == [code]
    assert "Open air" in text
    assert "Zénith" not in text
    assert "UTC" not in text


def test_a_start_is_shown_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert starts_at_text(datetime(2026, 3, 14, 21, 30, tzinfo=paris)) == (
        "Sat 14 Mar 2026, 20:30 UTC"
    )
    # What MongoDB hands back: a naive time, in UTC.
    assert starts_at_text(datetime(2026, 3, 14, 20, 30)) == "Sat 14 Mar 2026, 20:30 UTC"
