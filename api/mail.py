"""The one email the API sends itself: the sign-in link.

Case notifications go through the workflow (durable, idempotent); a sign-in link lives fifteen
minutes, so if the relay is down the person simply asks for another one. The email never says
whether the address had an account: it is only sent when there is one.
"""

from __future__ import annotations

import logging
import urllib.parse
from email.message import EmailMessage

from core.mail import MailDeliveryError, deliver, new_message
from core.settings import Settings

log = logging.getLogger(__name__)

SIGN_IN_TEMPLATE = "sign_in_link"


def sign_in_url(settings: Settings, token: str) -> str:
    query = urllib.parse.urlencode({"token": token})
    return f"{settings.public_url.rstrip('/')}/auth/sign-in?{query}"


async def send_sign_in_link(settings: Settings, *, to: str, name: str, token: str) -> None:
    """Email a one-time sign-in link (failures are logged, never raised: see the module)."""
    minutes = settings.sign_in_link_ttl_minutes
    body = (
        f"Bonjour {name},\n\n"
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
