"""Mail sent by the service whose change causes it: a durable queue in its own database,
written in the change's transaction, and a relay that sends it through SMTP (docs/mail.md)."""

from tixcommon.mail.queue import MAIL_COLLECTION, MailQueue
from tixcommon.mail.relay import MailRelay, MailRenderer, message_id, running_mail
from tixcommon.mail.settings import MailSettings

__all__ = [
    "MAIL_COLLECTION",
    "MailQueue",
    "MailRelay",
    "MailRenderer",
    "MailSettings",
    "message_id",
    "running_mail",
]
