"""Building and delivering email through the configured SMTP relay.

Two senders share this: the ``send_email`` activity (case notifications, durable through the
outbox) and the API (sign-in links, which are short-lived and simply asked for again if lost).

Error tree::

    MailDeliveryError               the relay did not take the message
      MailRecipientRefused          a permanent (5xx) refusal of the recipient
      MailServerRefused             any other refusal; ``temporary`` for a 4xx answer
      MailUnavailable               connection refused or lost, timeout, TLS failure

Errors never carry the recipient or the server's answer text (which may quote the address).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import aiosmtplib

from core.settings import Settings


class MailDeliveryError(Exception):
    """The relay did not take the message.

    Args:
        exception_name: The class of the underlying error (for logs and the outbox).
        code: The SMTP reply code, when the server answered.
    """

    def __init__(self, exception_name: str, code: int | None = None):
        self.exception_name = exception_name
        self.code = code
        super().__init__(f"{exception_name} {code}" if code is not None else exception_name)


class MailRecipientRefused(MailDeliveryError):
    """The server refused the recipient for good."""


class MailServerRefused(MailDeliveryError):
    """The server refused the message (sender, authentication, policy, or a 4xx answer)."""

    @property
    def temporary(self) -> bool:
        return self.code is not None and 400 <= self.code < 500


class MailUnavailable(MailDeliveryError):
    """The relay could not be reached or the session broke."""


def envelope_sender(settings: Settings) -> str:
    """The address of ``mail_from``.

    Raises:
        ValueError: ``mail_from`` holds no address.
    """
    _, address = email.utils.parseaddr(settings.mail_from)
    if "@" not in address:
        raise ValueError("mail_from must contain an email address")
    return address


def new_message(
    settings: Settings,
    *,
    subject: str,
    body: str,
    to: str,
    template: str,
    message_id: str | None = None,
    date: dt.datetime | None = None,
) -> EmailMessage:
    """A plain-text French email with secupol's headers.

    Args:
        settings: From and Reply-To addresses.
        subject: The subject line.
        body: The text.
        to: The recipient.
        template: Names the kind of message in ``X-Secupol-Template``.
        message_id: A fixed Message-ID (idempotent sends); a fresh one by default.
        date: A fixed Date (idempotent sends: every attempt carries the first one's); now by
            default.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = to
    if settings.mail_reply_to:
        message["Reply-To"] = settings.mail_reply_to
    message["Date"] = email.utils.format_datetime(_aware(date or dt.datetime.now(dt.UTC)))
    message["Message-ID"] = message_id or email.utils.make_msgid(
        domain=envelope_sender(settings).rpartition("@")[2]
    )
    # RFC 3834: tells vacation responders and mailing lists not to answer a robot.
    message["Auto-Submitted"] = "auto-generated"
    # Lets operators and tests find a message by its kind without reading its content.
    message["X-Secupol-Template"] = template
    # Quoted-printable stays readable and passes relays that do not speak 8BITMIME.
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message


async def deliver(
    settings: Settings,
    message: EmailMessage,
    recipient: str,
    *,
    accepted: Callable[[], Awaitable[None]] | None = None,
    deadline: float | None = None,
) -> None:
    """Hand ``message`` to the relay for ``recipient``.

    The session is opened and driven by hand rather than with ``aiosmtplib.send``, for two reasons
    that make a retried send rarer:

    - ``accepted`` (recording the send as done) is awaited as soon as the relay answers 250 to the
      end of DATA, before QUIT: the time during which the relay holds the message and the sender
      does not know it yet is one round trip and that callback, not a QUIT exchange more;
    - ``deadline`` (a ``loop.time()``) bounds the whole session up to the 250: past it, the
      connection is dropped, so that an attempt never still talks to the relay once the next
      attempt (after a start-to-close timeout) may have started.

    A QUIT that fails after the 250 is not a failure: the message was accepted.

    Args:
        settings: The relay, its TLS and credentials, its timeout per command.
        message: The message to send.
        recipient: The one envelope recipient.
        accepted: Awaited once the relay accepted the message; its errors propagate (the message
            was sent, but the caller could not record it).
        deadline: ``asyncio`` loop time at which to give up the session, or None.

    Raises:
        MailDeliveryError: one of its subclasses, when the relay did not take the message.
    """
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_use_tls,
        # Explicit, not opportunistic: a relay offering STARTTLS with a certificate we
        # cannot verify would otherwise fail every send of an unencrypted setup.
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=password,
        timeout=settings.smtp_timeout_s,
    )
    try:
        try:
            async with asyncio.timeout_at(deadline):
                await client.connect()
                await client.send_message(
                    message, sender=envelope_sender(settings), recipients=[recipient]
                )
        except aiosmtplib.SMTPRecipientsRefused as error:
            code = max((refusal.code for refusal in error.recipients), default=550)
            raise _refused(type(error).__name__, code) from None
        except aiosmtplib.SMTPRecipientRefused as error:
            raise _refused(type(error).__name__, error.code) from None
        except aiosmtplib.SMTPResponseException as error:
            raise MailServerRefused(type(error).__name__, error.code) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            # TimeoutError (the deadline) is an OSError.
            raise MailUnavailable(type(error).__name__) from None
        if accepted is not None:
            await accepted()
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
    finally:
        if client.is_connected:
            client.close()


def _refused(exception_name: str, code: int) -> MailDeliveryError:
    if 400 <= code < 500:
        return MailServerRefused(exception_name, code)
    return MailRecipientRefused(exception_name, code)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite gives back naive datetimes for what was stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
