"""The ``send_elus_email`` activity: the élus' emails, through the same outbox as ``send_email``.

Same at-most-once contract and error types as ``activities.email.sender`` (its docstring tells
the one window SMTP leaves open); only the templates differ: ``elus_<template>.subject.j2`` and
``elus_<template>.body.j2`` in the same directory, laid out by ``_elus_layout.body.j2``, which
appends the security-pack contacts (``_security_pack.j2``) and, for a decision of the prefect,
the voies et délais de recours (``_recourse.j2``, the evaluation's court).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email.rendering import (
    TEMPLATES_DIR,
    EmailTemplateError,
    RenderedEmail,
    _refuse_none,
    date_fr,
    eur,
    paris,
    required,
)
from activities.email.sender import (
    EmailActivities,
    EmailErrorType,
    OutboxStatus,
    _session_deadline,
    message_id_for,
)
from core.mail import new_message
from core.settings import Settings
from domain.contracts import SendEmailResult
from domain.elus import ElusEmailFacts, ElusEmailTemplate, SendElusEmailInput

log = activity.logger

ELUS_LAYOUT = "_elus_layout.body.j2"


class ElusEmailRenderer:
    """Renders each ``ElusEmailTemplate`` in French (same filters and rules as ``EmailRenderer``).

    Raises:
        EmailTemplateError: at construction, a template file is missing.
    """

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=_refuse_none,
        )
        self._env.filters.update(eur=eur, paris=paris, date_fr=date_fr, required=required)
        available = set(self._env.list_templates(extensions=["j2"]))
        needed = {ELUS_LAYOUT, "_security_pack.j2", "_recourse.j2"}
        for template in ElusEmailTemplate:
            needed |= {f"elus_{template.value}.subject.j2", f"elus_{template.value}.body.j2"}
        missing = sorted(needed - available)
        if missing:
            raise EmailTemplateError(f"missing email templates in {templates_dir}: {missing}")

    def render(
        self,
        template: ElusEmailTemplate,
        facts: ElusEmailFacts,
        *,
        security_pack: bool = False,
        recourse: Any = None,
    ) -> RenderedEmail:
        """Render one email.

        Raises:
            EmailTemplateError: the template is broken or needs a fact that is missing.
        """
        name = f"elus_{template.value}"
        context: dict[str, Any] = {"facts": facts, "recourse": recourse}
        try:
            subject = self._env.get_template(f"{name}.subject.j2").render(context)
            body = self._env.get_template(ELUS_LAYOUT).render(
                context, security_pack=security_pack, content_template=f"{name}.body.j2"
            )
        except (jinja2.TemplateError, ValueError, TypeError, LookupError) as error:
            raise EmailTemplateError(
                f"template {name!r} failed to render: {type(error).__name__}"
            ) from error
        subject = " ".join(subject.split())
        if not subject:
            raise EmailTemplateError(f"template {name!r} rendered an empty subject")
        lines = [line.rstrip() for line in body.strip("\n").splitlines()]
        return RenderedEmail(subject=subject, body="\n".join(lines) + "\n")


class ElusEmailActivities(EmailActivities):
    """``send_email``'s outbox and relay, for the élus' templates."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        renderer: ElusEmailRenderer | None = None,
    ) -> None:
        super().__init__(settings, engine)
        self._elus_renderer = renderer or ElusEmailRenderer()

    @activity.defn(name="send_elus_email")
    async def send_elus_email(self, input: SendElusEmailInput) -> SendEmailResult:
        """Send one élus' email, at most once per idempotency key (see ``send_email``).

        Raises:
            ApplicationError: typed as ``activities.email.sender`` describes.
        """
        key = input.idempotency_key
        template = f"elus_{input.template.value}"
        message_id = message_id_for(key, self._settings.mail_from)
        deadline = _session_deadline()
        sent_id, attempt, first_attempt_at = await self._begin_attempt(input, message_id)
        if sent_id is not None:
            log.info("email %s (%s) already sent, not sent again", key, template)
            return SendEmailResult(message_id=sent_id, already_sent=True)
        try:
            rendered = self._elus_renderer.render(
                input.template,
                input.facts,
                security_pack=input.security_pack,
                recourse=self._recourse if input.recourse else None,
            )
        except EmailTemplateError:
            log.warning("email %s (%s) cannot be rendered", key, template, exc_info=True)
            await self._record_failure(
                key, OutboxStatus.PERMANENT_FAILURE, EmailErrorType.TEMPLATE_ERROR.value
            )
            raise ApplicationError(
                f"Le courriel « {template} » ne peut pas être composé avec les informations "
                "de la procédure.",
                type=EmailErrorType.TEMPLATE_ERROR.value,
                non_retryable=True,
            ) from None
        message = new_message(
            self._settings,
            subject=rendered.subject,
            body=rendered.body,
            to=input.to,
            template=template,
            message_id=message_id,
            date=first_attempt_at,
        )

        await self._deliver_recorded(message, input.to, key, template, attempt, deadline)
        return SendEmailResult(message_id=message_id)
