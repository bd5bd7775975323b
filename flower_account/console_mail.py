"""Emails printed readably where none are sent (`EMAIL_URL=consolemail://`, what `make run` uses).

Django's console backend prints the raw MIME message, and a Russian body goes out base64: the
developer trying a password reset or a sign-in code sees neither the link nor the code. This one
prints the envelope and the plain-text body as the customer reads it, and names the other parts.
"""

from django.core.mail import EmailMessage
from django.core.mail.backends import console


class EmailBackend(console.EmailBackend):
    def write_message(self, message: EmailMessage) -> None:
        message.message()  # what SMTP would refuse (a newline in a header, say) is refused here too
        lines = [
            f"From: {message.from_email}",
            f"To: {', '.join(message.to)}",
            *([f"Cc: {', '.join(message.cc)}"] if message.cc else []),
            *([f"Bcc: {', '.join(message.bcc)}"] if message.bcc else []),
            f"Subject: {message.subject}",
            "",
            message.body,
        ]
        others = [mimetype for _content, mimetype in getattr(message, "alternatives", [])]
        others += [_attachment_name(a) for a in message.attachments]
        if others:
            lines += ["", f"(also in this email: {', '.join(others)})"]
        self.stream.write("\n".join(lines) + "\n" + "-" * 79 + "\n")


def _attachment_name(attachment) -> str:
    if hasattr(attachment, "get_filename"):  # a MIME part
        return attachment.get_filename() or "attachment"
    return getattr(attachment, "filename", None) or "attachment"
