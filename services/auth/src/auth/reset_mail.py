"""The reset mail: a link to the reset page, made when the mail relay sends it
(tixcommon.mail), with the token derived then. Asked for an address with no account, the mail
says so instead: the answer to the request is the same for both, and only the address's owner
reads which it was."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlencode

from bson import ObjectId

from auth.models import User
from auth.reset_tokens import ResetTokens

PASSWORD_RESET = "password-reset"


def mail_key(reset_id: ObjectId) -> str:
    return f"{PASSWORD_RESET}:{reset_id}"


@dataclass
class ResetMail:
    tokens: ResetTokens
    public_url: str
    lifetime_minutes: int

    async def render(self, to: str, params: Mapping[str, Any]) -> EmailMessage:
        message = EmailMessage()
        if await User.find_one(User.email == to) is None:
            message["Subject"] = "No TixVibe account for this address"
            text = (
                "Someone (you, we hope) asked to reset the password of a TixVibe account for "
                "this address, but there is none. If you have an account, it is under another "
                f"address. To make one: {self.public_url}/auth/signup\n\n"
                "If it was not you, you can ignore this message.\n"
            )
            message.set_content(text)
            message.add_alternative(_html(text), subtype="html")
            return message
        token = self.tokens.token(ObjectId(str(params["resetId"])))
        link = f"{self.public_url}/auth/reset?{urlencode({'token': token})}"
        message["Subject"] = "Reset your TixVibe password"
        message.set_content(
            "Someone (you, we hope) asked to reset your TixVibe password. To choose a new one,\n"
            f"open this link within {self.lifetime_minutes} minutes. It works once.\n\n"
            f"{link}\n\n"
            "Choosing a new password signs you out everywhere else.\n"
            "If it was not you, ignore this message: your password stays as it is.\n"
        )
        message.add_alternative(
            "<!doctype html><html><body>"
            "<p>Someone (you, we hope) asked to reset your TixVibe password. To choose a new "
            f"one, open this link within {self.lifetime_minutes} minutes. It works once.</p>"
            f'<p><a href="{html.escape(link, quote=True)}">Choose a new password</a></p>'
            "<p>Choosing a new password signs you out everywhere else. If it was not you, "
            "ignore this message: your password stays as it is.</p>"
            "</body></html>",
            subtype="html",
        )
        return message


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.strip().split("\n\n"))
    return f"<!doctype html><html><body>{paragraphs}</body></html>"
