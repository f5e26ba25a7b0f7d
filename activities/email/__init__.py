"""Emails: French templates rendered with Jinja2 and sent through SMTP, once per idempotency key."""

from activities.email.rendering import (
    DecisionKind,
    EmailRenderer,
    EmailTemplateError,
    Recourse,
    RenderedEmail,
)
from activities.email.sender import (
    EMAIL_NON_RETRYABLE_ERRORS,
    EmailActivities,
    EmailErrorType,
    OutboxStatus,
    message_id_for,
)

__all__ = [
    "EMAIL_NON_RETRYABLE_ERRORS",
    "DecisionKind",
    "EmailActivities",
    "EmailErrorType",
    "EmailRenderer",
    "EmailTemplateError",
    "OutboxStatus",
    "Recourse",
    "RenderedEmail",
    "message_id_for",
]
