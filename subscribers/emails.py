"""The confirmation mail: text and HTML from templates/email/confirm.*, plus one function."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from service.config import Config
from service.model.topics import Topic
from service.templating import mail_templates


def confirmation_message(
    config: Config, to: str, confirm_link: str, topics: list[Topic], now: datetime, message_id: str
) -> EmailMessage:
    """A multipart/alternative mail asking `to` to confirm their subscription to `topics`."""
    context = {"confirm_url": confirm_link, "topics": topics, "base_url": config.base_url, "email": to}
    message = EmailMessage()
    message["Subject"] = "Confirm your paperboy subscription"
    message["From"] = config.mail_from
    message["To"] = to
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail_templates.get_template("email/confirm.txt.j2").render(context))
    message.add_alternative(mail_templates.get_template("email/confirm.html.j2").render(context), subtype="html")
    return message
