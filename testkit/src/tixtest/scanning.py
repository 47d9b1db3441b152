"""Passes read as a phone reads them: the QR codes in an image, and on each page of a PDF
rendered as a screen shows it."""

from __future__ import annotations

from dataclasses import dataclass

import pypdfium2
import zxingcpp
from PIL import Image


def qr_codes(image: Image.Image) -> list[str]:
    """What each QR code the image holds says."""
    return [found.text for found in zxingcpp.read_barcodes(image)]


@dataclass(frozen=True)
class PdfPage:
    codes: list[str]  # its QR codes, decoded
    text: str  # its text, whitespace runs as one space


def pdf_pages(pdf: bytes, *, scale: float = 3) -> list[PdfPage]:
    pages = []
    for page in pypdfium2.PdfDocument(pdf):
        image = page.render(scale=scale, grayscale=True).to_pil()
        text = " ".join(page.get_textpage().get_text_bounded().split())
        pages.append(PdfPage(qr_codes(image), text))
    return pages
