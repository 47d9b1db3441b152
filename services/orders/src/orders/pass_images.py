"""Pass images: a pass code's QR code (SVG, PNG) and the PDF of an order's passes, a page each.

QR codes are segno's, at error level M with the standard quiet zone of 4 modules. The PDF's QR
codes are drawn as vector rectangles (one per run of dark modules), not embedded pictures: sharp
at any zoom or print size, and a few kilobytes a page.

Pages are A6 (105 x 148 mm: a phone's screen and a quarter of an A4 sheet), in DejaVu Sans, which
ships in `fonts/` (see VENDORED.md there) because the PDF core fonts draw Latin-1 only. It covers
Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew, Arabic letters and many symbols, not CJK nor
colour emoji: a character it has no glyph for is drawn as U+FFFD (a run of them as one), so a
title never fails to render and a reader sees that something was left out.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import segno
from fpdf import FPDF
from fpdf.enums import MethodReturnValue, XPos, YPos

QUIET_ZONE = 4
_FONTS = Path(__file__).parent / "fonts"
_FAMILY = "dejavu"
_REPLACEMENT = "\ufffd"
_ELLIPSIS = "\u2026"

# The page, in millimetres.
_PAGE = (105.0, 148.0)
_MARGIN = 8.0
_WIDTH = _PAGE[0] - 2 * _MARGIN
_QR_SIZE = 62.0  # quiet zone included: about 1.1 mm a module for a version 8 code
_GREY = 110


@dataclass(frozen=True, slots=True)
class PassSheet:
    """What one page of the PDF shows: the event, the seat, the buyer and the pass's code."""

    event_title: str
    venue: str | None
    starts_at: datetime | None
    seat: int
    of: int
    buyer_email: str
    code: str
    order_id: str


def _qr(code: str) -> segno.QRCode:
    return segno.make_qr(code, error="m", boost_error=False)


def qr_svg(code: str) -> bytes:
    """The QR code as an SVG document: a viewBox and no fixed size, so it scales to its box."""
    out = io.BytesIO()
    _qr(code).save(out, kind="svg", border=QUIET_ZONE, omitsize=True, title="Pass code")
    return out.getvalue()


def qr_png(code: str, scale: int = 8) -> bytes:
    """The QR code as a black and white PNG, `scale` pixels a module."""
    out = io.BytesIO()
    _qr(code).save(out, kind="png", border=QUIET_ZONE, scale=scale)
    return out.getvalue()


def starts_at_text(starts_at: datetime) -> str:
    """A start in UTC for people: "Sat 14 Mar 2026, 20:00 UTC". A naive time is UTC already
    (what MongoDB gives back)."""
    moment = starts_at.replace(tzinfo=UTC) if starts_at.tzinfo is None else starts_at
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


class _PassesPdf(FPDF):
    def __init__(self) -> None:
        super().__init__(unit="mm", format=_PAGE)
        self.set_margins(_MARGIN, _MARGIN)
        # Every page is laid out to fit; a page break in the middle of one would split a pass.
        self.set_auto_page_break(False)
        self.set_title("TixVibe passes")
        self.set_creator("TixVibe")
        self.add_font(_FAMILY, "", _FONTS / "DejaVuSans.ttf")
        self.add_font(_FAMILY, "B", _FONTS / "DejaVuSans-Bold.ttf")

    def drawable(self, text: str) -> str:
        """`text` as the current font can draw it, on one line."""
        glyphs = self.current_font.cmap  # type: ignore[union-attr]
        drawn: list[str] = []
        for char in unicodedata.normalize("NFC", text):
            if unicodedata.category(char).startswith("C") or char.isspace():
                drawn.append(" ")
            elif ord(char) in glyphs:
                drawn.append(char)
            elif not drawn or drawn[-1] != _REPLACEMENT:
                drawn.append(_REPLACEMENT)
        return " ".join("".join(drawn).split())

    def text_lines(
        self, text: str, size: float, height: float, max_lines: int, style: str = ""
    ) -> None:
        """`text` centred, wrapped at words, at most `max_lines` lines (the last one cut short
        with an ellipsis when it does not all fit)."""
        self.set_font(_FAMILY, style, size)
        lines = self._wrap(self.drawable(text), height)
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            last = lines[-1]
            while last and self.get_string_width(last + _ELLIPSIS) > _WIDTH:
                last = last[:-1]
            lines[-1] = last.rstrip() + _ELLIPSIS
        for line in lines:
            self.cell(_WIDTH, height, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _wrap(self, text: str, height: float) -> list[str]:
        lines = self.multi_cell(_WIDTH, height, text, dry_run=True, output=MethodReturnValue.LINES)
        assert isinstance(lines, list)  # what output=LINES returns, alone
        return lines

    def _code_lines(self, code: str) -> list[str]:
        """The code cut into the fewest lines of equal length that fit: easier to copy by eye
        than lines broken wherever the width runs out."""
        count = 1
        while True:
            length = -(-len(code) // count)
            lines = [code[start : start + length] for start in range(0, len(code), length)]
            if length == 1 or all(self.get_string_width(line) <= _WIDTH for line in lines):
                return lines
            count += 1

    def title_lines(self, title: str) -> None:
        # The largest size at which the title takes at most three lines; the smallest, cut.
        for size in (16, 13):
            self.set_font(_FAMILY, "B", size)
            if len(self._wrap(self.drawable(title), size * 0.45)) <= 3:
                break
        else:
            size = 11
        self.text_lines(title, size, size * 0.45, max_lines=3, style="B")

    def qr(self, code: str, x: float, y: float) -> None:
        matrix = _qr(code).matrix
        module = _QR_SIZE / (len(matrix) + 2 * QUIET_ZONE)
        origin_x, origin_y = x + QUIET_ZONE * module, y + QUIET_ZONE * module
        self.set_fill_color(0)
        for row, start, length in _dark_runs(matrix):
            self.rect(
                origin_x + start * module, origin_y + row * module, length * module, module, "F"
            )

    def page_of(self, sheet: PassSheet) -> None:
        self.add_page()
        self.set_text_color(_GREY)
        self.text_lines("TixVibe \u00b7 pass", 8, 4, max_lines=1)
        self.ln(1)
        self.set_text_color(0)
        self.title_lines(sheet.event_title)
        self.ln(1)
        if sheet.venue:
            self.text_lines(sheet.venue, 10, 4.5, max_lines=2)
        if sheet.starts_at is not None:
            self.text_lines(starts_at_text(sheet.starts_at), 10, 4.5, max_lines=1)
        self.ln(1.5)
        self.text_lines(f"Seat {sheet.seat} of {sheet.of}", 14, 6.5, max_lines=1, style="B")
        self.qr(sheet.code, (_PAGE[0] - _QR_SIZE) / 2, self.get_y())
        self.set_y(self.get_y() + _QR_SIZE)
        # Printed for a door whose scanner has no camera: the code typed in.
        self.set_font(_FAMILY, "", 6)
        for line in self._code_lines(sheet.code):
            self.cell(_WIDTH, 2.8, line, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        self.text_lines(sheet.buyer_email, 9, 4.5, max_lines=1)
        self.set_text_color(_GREY)
        self.text_lines(f"Order {sheet.order_id}", 8, 4, max_lines=1)


def _dark_runs(matrix: Sequence[bytearray]) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of each horizontal run of dark modules."""
    for row, modules in enumerate(matrix):
        start: int | None = None
        for column, dark in enumerate([*modules, 0]):
            if dark and start is None:
                start = column
            elif not dark and start is not None:
                yield row, start, column - start
                start = None


def passes_pdf(sheets: Sequence[PassSheet]) -> bytes:
    """A PDF of the passes, a page each, in the order given."""
    pdf = _PassesPdf()
    for sheet in sheets:
        pdf.page_of(sheet)
    return bytes(pdf.output())
