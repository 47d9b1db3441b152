"""`tix dev`'s SMTP server keeps what it receives, and `tix mail` lists and prints it."""

from __future__ import annotations

import socket
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from tixdev.cli import main
from tixdev.mail_server import SmtpServer
from tixdev.servers import free_port, free_port_block
from tixdev.stack import StackConfig, start_mail


def order_mail(to: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "TixVibe <tickets@tixvibe.dev>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 07 Dec 2026 17:00:00 +0000"
    message.set_content("Your order is complete: http://127.0.0.1:8080/orders/o1")
    message.add_alternative("<p>Your order is complete.</p>", subtype="html")
    message.add_attachment(
        b"%PDF-1.4" + b"x" * 2040, maintype="application", subtype="pdf", filename="passes.pdf"
    )
    return message


async def send(server: SmtpServer, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname=server.host, port=server.port, start_tls=False)


def kept(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


@pytest.fixture
def mail_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIX_DATA_DIR", str(tmp_path))
    return tmp_path / "mail"


async def test_tix_mail_lists_messages_in_arrival_order(
    mail_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SmtpServer(mail_dir) as server:
        await send(server, order_mail("ann@example.com", "Your tickets for order o1"))
        await send(server, order_mail("bob@example.com", "Your tickets for order o2"))
    assert kept(mail_dir) == ["1.eml", "2.eml"]

    assert main(["mail"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2
    assert listing[0].split()[0] == "1"
    assert "ann@example.com" in listing[0]
    assert listing[0].endswith("Your tickets for order o1")
    assert listing[1].split()[0] == "2"
    assert listing[1].endswith("Your tickets for order o2")


async def test_tix_mail_n_prints_the_headers_the_text_and_the_attachments(
    mail_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SmtpServer(mail_dir) as server:
        await send(server, order_mail("ann@example.com", "Your tickets for order o1"))

    assert main(["mail", "1"]) == 0
    printed = capsys.readouterr().out
    assert "To: ann@example.com" in printed
    assert "Subject: Your tickets for order o1" in printed
    assert "Your order is complete: http://127.0.0.1:8080/orders/o1" in printed
    assert "<p>" not in printed  # the text part, not the HTML
    assert "passes.pdf  application/pdf  2,048 bytes" in printed

    assert main(["mail", "2"]) == 1
    assert "no message 2" in capsys.readouterr().err


def test_tix_mail_without_mail_says_so(mail_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mail"]) == 0
    assert "no mail in" in capsys.readouterr().out


async def test_a_restarted_server_numbers_on_and_refuses_connections_while_stopped(
    mail_dir: Path,
) -> None:
    server = SmtpServer(mail_dir)
    with server:
        await send(server, order_mail("ann@example.com", "first"))
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(server, order_mail("ann@example.com", "lost"))
    with SmtpServer(mail_dir, server.port) as again:
        await send(again, order_mail("ann@example.com", "second"))
        assert [str(message["Subject"]) for message in again.messages()] == ["first", "second"]
    assert kept(mail_dir) == ["1.eml", "2.eml"]


def test_tix_dev_points_the_services_at_its_smtp_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SMTP_HOST", "MAIL_FROM", "PUBLIC_URL", "TIX_SMTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    base = free_port_block(26)
    config = StackConfig(data_dir=tmp_path, base_port=base, gateway_port=base)
    env, server = start_mail(config)
    assert server is not None
    try:
        assert env == {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(base + 25),
            "SMTP_STARTTLS": "false",
            "MAIL_FROM": "TixVibe <tickets@tixvibe.dev>",
            "PUBLIC_URL": f"http://127.0.0.1:{base}",
        }
        assert server.directory == tmp_path / "mail"
        with socket.create_connection((server.host, server.port), timeout=5):
            pass
    finally:
        server.stop()


def test_tix_dev_takes_another_port_when_its_own_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("TIX_SMTP_PORT", raising=False)
    taken = free_port()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        config = StackConfig(data_dir=tmp_path, base_port=taken - 25, gateway_port=taken - 25)
        env, server = start_mail(config)
        assert server is not None
        server.stop()
    assert env["SMTP_PORT"] != str(taken)


def test_tix_dev_uses_the_relay_smtp_host_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_HOST", "smtp.example.com")
    env, server = start_mail(StackConfig(data_dir=tmp_path, base_port=3000, gateway_port=8080))
    assert server is None
    assert "SMTP_HOST" not in env  # the environment's own reaches the services
    assert not (tmp_path / "mail").exists()
