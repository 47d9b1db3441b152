"""`tix mail`: the messages the local SMTP server kept (`.dev/mail/<n>.eml`), listed, or one
printed: its headers, its text, and what is attached."""

from __future__ import annotations

import sys
from email.message import EmailMessage
from pathlib import Path

from tixdev.mail_server import message_numbers, read_message

_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def mail_command(directory: Path, number: int | None) -> int:
    numbers = message_numbers(directory)
    if number is None:
        if not numbers:
            print(f"no mail in {directory}")  # noqa: T201
            return 0
        for each in numbers:
            print(_summary(each, read_message(directory, each)))  # noqa: T201
        return 0
    if number not in numbers:
        print(f"no message {number} in {directory} (`tix mail` lists them)", file=sys.stderr)  # noqa: T201
        return 1
    print(render(read_message(directory, number)))  # noqa: T201
    return 0


def _summary(number: int, message: EmailMessage) -> str:
    return f"{number:>4}  {message['Date'] or '-'}  {message['To'] or '-'}  {message['Subject']}"


def render(message: EmailMessage) -> str:
    """Headers, the text part (or a note that there is none), and each attachment's name,
    type and size."""
    lines = [f"{name}: {message[name]}" for name in _HEADERS if message[name] is not None]
    text = message.get_body(("plain",))
    lines += ["", text.get_content().rstrip() if text is not None else "(no text part)"]
    attachments = list(message.iter_attachments())
    if attachments:
        lines += ["", "Attachments:"]
    for part in attachments:
        assert isinstance(part, EmailMessage)
        size = len(part.get_payload(decode=True) or b"")
        name = part.get_filename() or "(unnamed)"
        lines.append(f"  {name}  {part.get_content_type()}  {size:,} bytes")
    return "\n".join(lines)
