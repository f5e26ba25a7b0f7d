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

At most once, as far as SMTP allows
-----------------------------------
An attempt claims the key in ``email_outbox`` (``sending``), talks to the relay, and marks the key
``sent`` the moment the relay answers 250 to the end of DATA (before QUIT). A key marked ``sent``
is never sent again, and no write ever takes a ``sent`` row back to another status.

One window cannot be closed with SMTP: the relay accepted the message (it has the final dot)
but the worker died, lost the connection or could not write to the database before ``sent``
was committed. Nothing in SMTP lets the next attempt ask the relay whether it has the message,
so the next attempt sends it again (not sending would lose every email whose session died
before the dot). The copy is byte for byte the first one: the same Message-ID (derived from
the key), the same Date (the time of the first attempt, kept in the outbox row), the same MIME
boundary (derived from the key), the same body. Mail stores and clients that deduplicate by
Message-ID show one message; the fault suite (``tests/faults``) counts distinct Message-IDs and
checks that every extra copy is identical.

Two attempts never talk to the relay at the same time: an attempt gives up its SMTP session
before its start-to-close timeout ends (``SESSION_MARGIN``), so once Temporal schedules the next
attempt the previous one has either marked the key or dropped its connection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from enum import StrEnum
from typing import Protocol

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


SESSION_MARGIN = 0.2
"""Share of the start-to-close timeout left unused by the SMTP session (at least
``MIN_SESSION_MARGIN_S``, at most half of it): the time to mark the key ``sent`` and to report
the result before Temporal may start the next attempt."""

MIN_SESSION_MARGIN_S = 5.0

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


def mime_boundary_for(idempotency_key: str) -> str:
    """The MIME boundary of a message with attachments, the same on every attempt.

    ``=_`` can appear neither in quoted-printable nor in base64 text, so the boundary never
    occurs in a part (RFC 2045, 6.7).
    """
    digest = hashlib.sha256(b"boundary:" + idempotency_key.encode("utf-8")).hexdigest()[:24]
    return f"=_secupol_{digest}"


class Outgoing(Protocol):
    """What the outbox needs of an email: its key, its template's name, its recipient."""

    @property
    def idempotency_key(self) -> str: ...

    @property
    def template(self) -> StrEnum: ...

    @property
    def to(self) -> str: ...


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
        email is rendered and given to the SMTP relay, and the row is marked ``sent`` as soon as
        the relay accepted it.

        The one window SMTP leaves open (the relay accepted, ``sent`` not committed) and why a
        copy sent after it is the same message are described in the module docstring.

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
        deadline = _session_deadline()
        sent_id, attempt, first_attempt_at = await self._begin_attempt(input, message_id)
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

        message = self._build_message(input, rendered, message_id, first_attempt_at)
        await self._attach(message, input)

        await self._deliver_recorded(message, input.to, key, template, attempt, deadline)
        return SendEmailResult(message_id=message_id)

    async def _deliver_recorded(
        self,
        message: EmailMessage,
        to: str,
        key: str,
        template: str,
        attempt: int,
        deadline: float | None,
    ) -> None:
        """Deliver ``message`` and record the outcome in the outbox: sent the moment the relay
        accepts it; otherwise a temporary or permanent failure, raised again for Temporal."""

        async def accepted() -> None:
            await self._mark_sent(key)

        try:
            await self._deliver(message, to, accepted, deadline)
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
        log.info("email %s (%s) sent, attempt %d", key, template, attempt)

    # --- Outbox ---------------------------------------------------------------------------------

    async def _begin_attempt(
        self, input: Outgoing, message_id: str
    ) -> tuple[str | None, int, dt.datetime]:
        """Claim the key for this attempt.

        Returns:
            The stored Message-ID if the key is already sent (else None), the attempt number, and
            the time of the first attempt (the Date of the message on every attempt).
        """
        table = email_outbox
        key = input.idempotency_key
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(
                        table.c.status, table.c.message_id, table.c.attempts, table.c.created_at
                    ).where(table.c.idempotency_key == key)
                )
            ).first()
            if row is not None and row.status == OutboxStatus.SENT:
                return row.message_id, row.attempts, row.created_at
            values = {
                "template": input.template.value,
                "recipient": input.to,
                "message_id": message_id,
                "status": OutboxStatus.SENDING.value,
            }
            if row is None:
                created_at = _now()
                # Two attempts inserting at once: the second fails on the primary key and is
                # retried by Temporal, then reads the first one's row.
                await connection.execute(
                    insert(table).values(
                        idempotency_key=key, attempts=1, created_at=created_at, **values
                    )
                )
                return None, 1, created_at
            claimed = await connection.execute(
                update(table)
                # Read committed: an attempt that marked the key sent since the select wins.
                .where(table.c.idempotency_key == key, table.c.status != OutboxStatus.SENT.value)
                .values(attempts=table.c.attempts + 1, **values)
            )
            if claimed.rowcount == 0:
                return row.message_id, row.attempts, row.created_at
            return None, row.attempts + 1, row.created_at

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
                # A failure never overwrites a send another attempt recorded.
                .where(
                    email_outbox.c.idempotency_key == key,
                    email_outbox.c.status != OutboxStatus.SENT.value,
                )
                .values(status=status.value, last_error=summary)
            )

    # --- Message and SMTP -----------------------------------------------------------------------

    def _build_message(
        self,
        input: SendEmailInput,
        rendered: RenderedEmail,
        message_id: str,
        first_attempt_at: dt.datetime,
    ) -> EmailMessage:
        return new_message(
            self._settings,
            subject=rendered.subject,
            body=rendered.body,
            to=input.to,
            template=input.template.value,
            message_id=message_id,
            date=first_attempt_at,
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
        if input.attachments:
            # The default boundary is random: a copy sent again would differ from the first.
            message.set_boundary(mime_boundary_for(input.idempotency_key))

    async def _deliver(
        self,
        message: EmailMessage,
        recipient: str,
        accepted: Callable[[], Awaitable[None]],
        deadline: float | None,
    ) -> None:
        try:
            await deliver(self._settings, message, recipient, accepted=accepted, deadline=deadline)
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


def _session_deadline() -> float | None:
    """Loop time by which this attempt's SMTP session must be over (None outside Temporal)."""
    if not activity.in_activity():
        return None
    timeout = activity.info().start_to_close_timeout
    if timeout is None:
        return None
    budget = timeout.total_seconds()
    margin = min(max(budget * SESSION_MARGIN, MIN_SESSION_MARGIN_S), budget / 2)
    return asyncio.get_running_loop().time() + max(budget - margin, 0.0)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
