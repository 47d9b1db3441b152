"""What the pages need of passes: a QR code to put in the page, and what a code says.

Orders draws every pass's QR code (the page's, the PDF's and the mail's are one renderer); the
order page puts it inline, so it needs no request of its own and shows with the page. The page
never embeds markup as it came: the SVG is read and drawn again from its viewBox and its paths'
outlines only, each checked against what segno writes, so nothing else (a script, an event
handler, a link) can reach the page through it, whatever the response held.

A code is `<kid>.<payload>.<signature>` (orders.pass_codes, which this must agree with): the
payload's 27 bytes are a version (1), the pass id, the ticket id (12 bytes each), the seat and the
order's seats. The client reads the payload without checking the signature, to say "of 4" once
orders has let the pass in; orders verifies every code it is sent, and checks its listing too.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from html import escape

_SVG = "{http://www.w3.org/2000/svg}"
_VIEW_BOX = re.compile(r"0 0 \d{1,4} \d{1,4}")
_OUTLINE = re.compile(r"[MmHhVvZz0-9. -]{1,100000}")
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,6}")

_CODE_VERSION = 1
_PAYLOAD_BYTES = 27


class UnexpectedQrCode(ValueError):
    """The SVG is not a QR code as orders draws them: it is not put in the page."""


def inline_qr(svg: str, label: str) -> str:
    """The QR code's SVG as markup to put in a page, drawn again from its geometry alone."""
    # From orders, our own service; Python's expat refuses entity expansion bombs and never
    # fetches external entities, and nothing but the geometry read here leaves this function.
    try:
        root = ElementTree.fromstring(svg)  # noqa: S314
    except ElementTree.ParseError as error:
        raise UnexpectedQrCode("not XML") from error
    view_box = root.get("viewBox", "")
    if root.tag != f"{_SVG}svg" or _VIEW_BOX.fullmatch(view_box) is None:
        raise UnexpectedQrCode("not a QR code's SVG")
    paths = []
    for path in root.iter(f"{_SVG}path"):
        outline, colour = path.get("d", ""), path.get("stroke", "#000")
        if _OUTLINE.fullmatch(outline) is None or _COLOUR.fullmatch(colour) is None:
            raise UnexpectedQrCode("a path that is not a QR code's")
        paths.append(f'<path d="{outline}" stroke="{colour}"/>')
    if not paths:
        raise UnexpectedQrCode("no modules")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{view_box}" class="qr" role="img" '
        f'aria-label="{escape(label)}">{"".join(paths)}</svg>'
    )


@dataclass(frozen=True, slots=True)
class PassPayload:
    """What a code says it is (unverified): seat `seat` of `of`."""

    seat: int
    of: int


def read_payload(code: str) -> PassPayload | None:
    """The payload of something shaped like a pass code; None for anything else."""
    parts = code.split(".")
    if len(parts) != 3:
        return None
    try:
        data = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(data) != _PAYLOAD_BYTES or data[0] != _CODE_VERSION:
        return None
    return PassPayload(seat=data[25], of=data[26])
