"""An EmailMessage to JSON and back: what the outbox row keeps between the request and the worker.

JSON, not pickle: the row stays readable in a database shell and a code change cannot make old rows
unloadable. Only what Django's messages carry is kept; an attachment is kept as base64.
"""

import base64
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives, make_msgid
from django.core.mail.utils import DNS_NAME


def message_to_dict(message: EmailMessage) -> dict[str, Any]:
    headers = {str(key): str(value) for key, value in message.extra_headers.items()}
    # Fixed now, so each retry of this email carries the same Message-ID (receivers can collapse it).
    if not any(key.lower() == "message-id" for key in headers):
        headers["Message-ID"] = make_msgid(domain=DNS_NAME)
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": str(message.from_email),
        "to": [str(a) for a in message.to],
        "cc": [str(a) for a in message.cc],
        "bcc": [str(a) for a in message.bcc],
        "reply_to": [str(a) for a in message.reply_to],
        "headers": headers,
        "alternatives": [
            [str(content), mimetype] for content, mimetype in getattr(message, "alternatives", [])
        ],
        "attachments": [_attachment_to_list(a) for a in message.attachments],
    }


def message_from_dict(data: dict[str, Any]) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        data["subject"],
        data["body"],
        data["from_email"],
        data["to"],
        cc=data["cc"],
        bcc=data["bcc"],
        reply_to=data["reply_to"],
        headers=data["headers"],
    )
    for content, mimetype in data["alternatives"]:
        message.attach_alternative(content, mimetype)
    for filename, content, mimetype in data["attachments"]:
        message.attach(filename, base64.b64decode(content), mimetype)
    return message


def _attachment_to_list(attachment) -> list[str | None]:
    if not isinstance(attachment, tuple):
        raise ValueError("The outbox keeps (filename, content, mimetype) attachments only.")
    filename, content, mimetype = attachment
    raw = content.encode() if isinstance(content, str) else content
    return [filename, base64.b64encode(raw).decode("ascii"), mimetype]
