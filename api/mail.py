"""The one email the API sends itself: the sign-in link.

Case notifications go through the workflow (durable, idempotent); a sign-in link lives fifteen
minutes, so if the relay is down the person simply asks for another one. The email never says
whether the address had an account: it is only sent when there is one.

Same answer, same time (issue 12): the routes only queue a request to ``SignInLinks``; looking
the address up, creating the account, issuing the token and sending all happen in one background
task, after the answer and off every connection, so that neither the answer nor its timing (nor
the next request's on a kept-alive connection) tells a known address from an unknown one. The
email carries no text typed by anyone but Sécu'Pol: not the display name, which whoever created
the account chose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse
from dataclasses import dataclass
from email.message import EmailMessage

from core.accounts import Accounts
from core.mail import MailDeliveryError, deliver, new_message
from core.settings import Settings
from domain.errors import DomainError, ErrorCode
from domain.stages import Role

log = logging.getLogger(__name__)

SIGN_IN_TEMPLATE = "sign_in_link"


def sign_in_url(settings: Settings, token: str) -> str:
    query = urllib.parse.urlencode({"token": token})
    return f"{settings.public_url.rstrip('/')}/auth/sign-in?{query}"


async def send_sign_in_link(settings: Settings, *, to: str, token: str) -> None:
    """Email a one-time sign-in link (failures are logged, never raised: see the module)."""
    minutes = settings.sign_in_link_ttl_minutes
    body = (
        "Bonjour,\n\n"
        "Pour vous connecter à Sécu'Pol, ouvrez le lien ci-dessous. Il est valable "
        f"{minutes} minutes et ne peut servir qu'une fois.\n\n"
        f"{sign_in_url(settings, token)}\n\n"
        "Si vous n'avez pas demandé à vous connecter, ignorez ce message : votre compte reste "
        "protégé.\n\n"
        "Sécu'Pol — remboursement des frais de sécurité des candidats menacés\n"
    )
    message = new_message(
        settings,
        subject="Votre lien de connexion à Sécu'Pol",
        body=body,
        to=to,
        template=SIGN_IN_TEMPLATE,
    )
    await _deliver_quietly(settings, message, to, SIGN_IN_TEMPLATE)


async def _deliver_quietly(
    settings: Settings, message: EmailMessage, to: str, template: str
) -> None:
    try:
        await deliver(settings, message, to)
    except MailDeliveryError as error:
        # Never the address: only what kind of email failed, and how.
        log.warning("%s email not sent: %s", template, error)


@dataclass(frozen=True)
class _LinkRequest:
    email: str
    create_account: bool


class SignInLinks:
    """Sign-in links requested by the routes, issued and sent by one background task.

    Args:
        accounts: The accounts.
        settings: The sender and the links' lifetime.
        capacity: Requests waiting at most; past it a request is dropped (the rate limits keep
            the queue far below it).
    """

    def __init__(self, accounts: Accounts, settings: Settings, capacity: int = 1000):
        self._accounts = accounts
        self._settings = settings
        self._queue: asyncio.Queue[_LinkRequest] = asyncio.Queue(capacity)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sign-in-links")

    async def aclose(self) -> None:
        """Send what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def request(self, email: str) -> None:
        """Queue a sign-in link for the account of ``email``, if there is one."""
        self._put(_LinkRequest(email=email, create_account=False))

    def create_and_request(self, email: str) -> None:
        """Queue a candidate account for ``email`` (if there is none) and its sign-in link; the
        account has no name until its owner sets it."""
        self._put(_LinkRequest(email=email, create_account=True))

    def _put(self, item: _LinkRequest) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            log.error("sign-in link queue full: a request was dropped")

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._handle(item)
            except Exception:
                # Never the address; the next request goes on.
                log.exception("sign-in link request failed")
            finally:
                self._queue.task_done()

    async def _handle(self, item: _LinkRequest) -> None:
        if item.create_account:
            try:
                await self._accounts.create(email=item.email, display_name="", role=Role.CANDIDATE)
            except DomainError as error:
                if error.code != ErrorCode.ACCOUNT_EXISTS:
                    raise
        token = await self._accounts.issue_sign_in_link(item.email)
        if token is None:
            return
        await send_sign_in_link(self._settings, to=item.email.strip().lower(), token=token)
