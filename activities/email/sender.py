"""The ``send_email`` activity: render a French email and hand it to the SMTP relay, once per key.

Errors it raises, all ``temporalio.exceptions.ApplicationError`` named by ``type``::

    ApplicationError
    ├── non-retryable (EMAIL_NON_RETRYABLE_ERRORS): retrying the same input cannot succeed
    │   ├── EmailTemplateError      a template is broken or lacks a fact it requires
    │   └── EmailRecipientRefused   the server refused the recipient for good (5xx)
    └── retryable: the relay or its configuration may recover (an operator may fix settings)
        ├── SmtpUnavailable         connection refused or lost, timeout, TLS failure
        ├── SmtpTemporaryFailure    any 4xx answer (greylisting, mailbox busy, rate limit)
        └── SmtpRejected            any other 5xx answer (sender refused, authentication failed)

Database errors propagate unchanged (retryable). Messages are in French (operators and, through
the workflow, users may read them); they never quote the recipient, the body or the server's
answer text, which may contain the address.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from email.message import EmailMessage
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email.rendering import EmailRenderer, EmailTemplateError, Recourse, RenderedEmail
from core.db import email_outbox
from core.mail import (
    MailDeliveryError,
    MailRecipientRefused,
    MailServerRefused,
    deliver,
    envelope_sender,
    new_message,
)
from core.settings import Settings
from core.storage import DocumentStorage
from domain.contracts import EMAIL_PERMANENT_ERRORS, SendEmailInput, SendEmailResult

log = activity.logger


class EmailErrorType(StrEnum):
    """Stable ``ApplicationError.type`` of every failure of ``send_email``."""

    TEMPLATE_ERROR = "EmailTemplateError"
    RECIPIENT_REFUSED = "EmailRecipientRefused"
    SMTP_UNAVAILABLE = "SmtpUnavailable"
    SMTP_TEMPORARY_FAILURE = "SmtpTemporaryFailure"
    SMTP_REJECTED = "SmtpRejected"


EMAIL_NON_RETRYABLE_ERRORS: list[str] = EMAIL_PERMANENT_ERRORS
"""``non_retryable_error_types`` for ``send_email`` calls: declared in ``domain`` because the
workflow, which may not import this module, sets the retry policy."""


class OutboxStatus(StrEnum):
    """Values of ``email_outbox.status``."""

    SENDING = "sending"
    """An attempt started; still there after a crash between SMTP and the database."""
    SENT = "sent"
    """The relay accepted the message: the key is never sent again."""
    TEMPORARY_FAILURE = "temp_failure"
    """The last attempt failed with a retryable error."""
    PERMANENT_FAILURE = "perm_failure"
    """The last attempt failed with a non-retryable error."""


MESSAGE_ID_HASH_LENGTH = 32
"""Hex digits of SHA-256 in a Message-ID: 128 bits, ample against collisions between keys."""


def message_id_for(idempotency_key: str, mail_from: str) -> str:
    """The Message-ID of the email sent under ``idempotency_key``, the same on every attempt.

    Args:
        idempotency_key: The key of ``SendEmailInput``.
        mail_from: The From address (its domain ends the Message-ID, as RFC 5322 suggests).

    Returns:
        ``<sha256-hex-prefix@domain>``; the key itself, which names the case, is not exposed.
    """
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:MESSAGE_ID_HASH_LENGTH]
    _, address = email.utils.parseaddr(mail_from)
    domain = address.rpartition("@")[2] or "secupol"
    return f"<{digest}@{domain}>"


class EmailActivities:
    """Email activities, holding what they need: settings, the database engine, the renderer."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        renderer: EmailRenderer | None = None,
        storage: DocumentStorage | None = None,
    ) -> None:
        """Build the activities (the worker does it once, from settings).

        Args:
            settings: SMTP relay, From and Reply-To addresses; the courts and delay of the voies
                de recours that decision emails state.
            engine: The app database, which holds the ``email_outbox`` table.
            renderer: The templates; the packaged ones by default.
            storage: Where attachments (the deposit receipt) are read from.

        Raises:
            ValueError: ``settings.mail_from`` holds no address.
            EmailTemplateError: a packaged template file is missing.
        """
        envelope_sender(settings)  # refuses a From without an address at once
        self._settings = settings
        self._engine = engine
        self._renderer = renderer or EmailRenderer()
        self._recourse = Recourse.from_settings(settings)
        self._storage = storage

    @activity.defn(name="send_email")
    async def send_email(self, input: SendEmailInput) -> SendEmailResult:
        """Send one email, at most once per idempotency key as far as the database can tell.

        The key is looked up in ``email_outbox``: if it is ``sent``, nothing is sent and the
        result says ``already_sent``. Otherwise the row is marked ``sending`` (attempts + 1), the
        email is rendered and given to the SMTP relay, and the row is marked ``sent``.

        There is one unavoidable window: the relay accepted the message but the process died (or
        the database failed) before ``sent`` was committed. The retry then sends the message a
        second time. Both copies carry the same Message-ID, derived from the key, so mail
        clients and operators can recognise the duplicate. The same holds when an attempt that
        Temporal timed out is still talking to the relay while the retry starts: a row left in
        ``sending`` is not a lock, since it is also what a crash leaves behind.

        Args:
            input: The template, recipient, facts and idempotency key.

        Returns:
            The Message-ID, and whether an earlier attempt had already sent the email.

        Raises:
            ApplicationError: typed as described in this module's docstring.
        """
        key = input.idempotency_key
        template = input.template.value
        message_id = message_id_for(key, self._settings.mail_from)
        sent_id, attempt = await self._begin_attempt(input, message_id)
        if sent_id is not None:
            log.info("email %s (%s) already sent, not sent again", key, template)
            return SendEmailResult(message_id=sent_id, already_sent=True)

        try:
            rendered = self._renderer.render(
                input.template,
                input.facts,
                security_pack=input.security_pack,
                recourse=self._recourse,
            )
        except EmailTemplateError:
            # A bug to fix in a template or in the facts the workflow gives: the traceback
            # names the template line, never a fact's value.
            log.warning("email %s (%s) cannot be rendered", key, template, exc_info=True)
            await self._record_failure(
                key, OutboxStatus.PERMANENT_FAILURE, EmailErrorType.TEMPLATE_ERROR.value
            )
            raise ApplicationError(
                f"Le courriel « {template} » ne peut pas être composé avec les informations "
                "du dossier.",
                type=EmailErrorType.TEMPLATE_ERROR.value,
                non_retryable=True,
            ) from None

        message = self._build_message(input, rendered, message_id)
        await self._attach(message, input)
        try:
            await self._deliver(message, input.to)
        except _DeliveryError as failure:
            status = (
                OutboxStatus.PERMANENT_FAILURE
                if failure.error.non_retryable
                else OutboxStatus.TEMPORARY_FAILURE
            )
            log.warning(
                "email %s (%s) not sent, attempt %d: %s", key, template, attempt, failure.summary
            )
            await self._record_failure(key, status, failure.summary)
            raise failure.error from None

        await self._mark_sent(key)
        log.info("email %s (%s) sent, attempt %d", key, template, attempt)
        return SendEmailResult(message_id=message_id)

    # --- Outbox ---------------------------------------------------------------------------------

    async def _begin_attempt(
        self, input: SendEmailInput, message_id: str
    ) -> tuple[str | None, int]:
        """Return the stored Message-ID if already sent, else record the attempt and count it."""
        table = email_outbox
        key = input.idempotency_key
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(table.c.status, table.c.message_id, table.c.attempts).where(
                        table.c.idempotency_key == key
                    )
                )
            ).first()
            if row is not None and row.status == OutboxStatus.SENT:
                return row.message_id, row.attempts
            values = {
                "template": input.template.value,
                "recipient": input.to,
                "message_id": message_id,
                "status": OutboxStatus.SENDING.value,
            }
            if row is None:
                await connection.execute(
                    insert(table).values(
                        idempotency_key=key, attempts=1, created_at=_now(), **values
                    )
                )
                return None, 1
            await connection.execute(
                update(table)
                .where(table.c.idempotency_key == key)
                .values(attempts=table.c.attempts + 1, **values)
            )
            return None, row.attempts + 1

    async def _mark_sent(self, key: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(email_outbox)
                .where(email_outbox.c.idempotency_key == key)
                .values(status=OutboxStatus.SENT.value, sent_at=_now(), last_error=None)
            )

    async def _record_failure(self, key: str, status: OutboxStatus, summary: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(email_outbox)
                .where(email_outbox.c.idempotency_key == key)
                .values(status=status.value, last_error=summary)
            )

    # --- Message and SMTP -----------------------------------------------------------------------

    def _build_message(
        self, input: SendEmailInput, rendered: RenderedEmail, message_id: str
    ) -> EmailMessage:
        return new_message(
            self._settings,
            subject=rendered.subject,
            body=rendered.body,
            to=input.to,
            template=input.template.value,
            message_id=message_id,
        )

    async def _attach(self, message: EmailMessage, input: SendEmailInput) -> None:
        """Attach stored documents (decrypted from storage; never through Temporal)."""
        for document_id in input.attachments:
            if self._storage is None:
                raise ApplicationError(
                    "Aucun stockage de documents n'est configuré pour les pièces jointes.",
                    type=EmailErrorType.TEMPLATE_ERROR.value,
                    non_retryable=True,
                )
            info = await self._storage.get(document_id)
            data = await self._storage.read_bytes(document_id)
            maintype, _, subtype = info.content_type.partition("/")
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=info.filename)

    async def _deliver(self, message: EmailMessage, recipient: str) -> None:
        try:
            await deliver(self._settings, message, recipient)
        except MailDeliveryError as error:
            raise _delivery_error(error) from None


class _DeliveryError(Exception):
    """What went wrong at the relay: the error for Temporal and a summary for the outbox row."""

    def __init__(self, error: ApplicationError, summary: str) -> None:
        super().__init__(summary)
        self.error = error
        self.summary = summary


def _delivery_error(error: MailDeliveryError) -> _DeliveryError:
    code = error.code
    if isinstance(error, MailRecipientRefused):
        error_type = EmailErrorType.RECIPIENT_REFUSED.value
        application_error = ApplicationError(
            f"Le serveur de messagerie refuse définitivement le destinataire (code {code}).",
            type=error_type,
            non_retryable=True,
        )
    elif isinstance(error, MailServerRefused) and error.temporary:
        error_type = EmailErrorType.SMTP_TEMPORARY_FAILURE.value
        application_error = ApplicationError(
            f"Le serveur de messagerie refuse temporairement l'envoi (code {code}).",
            type=error_type,
        )
    elif isinstance(error, MailServerRefused):
        error_type = EmailErrorType.SMTP_REJECTED.value
        application_error = ApplicationError(
            f"Le serveur de messagerie refuse l'envoi (code {code}) ; vérifiez la configuration "
            "de l'expéditeur et de l'authentification.",
            type=error_type,
        )
    else:
        error_type = EmailErrorType.SMTP_UNAVAILABLE.value
        application_error = ApplicationError(
            "Le serveur de messagerie est injoignable ; l'envoi sera retenté.", type=error_type
        )
    return _DeliveryError(application_error, f"{error_type}: {error}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
