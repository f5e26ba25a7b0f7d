"""French rendering of secupol's emails from Jinja2 templates.

Plain text only (UTF-8): the emails are short administrative notices, and plain text cannot hide a
misleading link. Dates are written in French by hand rather than through the system locale, which
is rarely installed in containers and is process-global.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jinja2

from domain.calendar import FRENCH_WEEKDAYS, french_date, paris_time
from domain.contracts import EmailFacts, EmailTemplate
from domain.money import format_eur

if TYPE_CHECKING:
    from core.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"
"""Where the packaged templates live."""

LAYOUT_TEMPLATE = "_layout.body.j2"
SECURITY_PACK_TEMPLATE = "_security_pack.j2"
RECOURSE_TEMPLATE = "_recourse.j2"
COPY_SUBJECT_PREFIX = "[Copie] "
"""Starts the subject of the copy a mandated third party receives."""

_T = TypeVar("_T")


class EmailTemplateError(Exception):
    """A template cannot be rendered with the facts given (missing file, fact or syntax error).

    The message is for developers and operators: it names the template, never a fact's value.
    """


@dataclass(frozen=True)
class RenderedEmail:
    """What the renderer produces: a one-line subject and a plain-text body ending in a newline."""

    subject: str
    body: str


class DecisionKind(StrEnum):
    """The decisions whose emails state voies et délais de recours, each with its court."""

    EVALUATION = "evaluation"
    """The prefect's décision d'évaluation (first evaluation or re-evaluation)."""
    DECISION = "decision"
    """The CNCCFP's decision on the amount."""
    CLOSING = "closing"
    """The closing of a case: by the CNCCFP, or by the time bar."""


@dataclass(frozen=True)
class Recourse:
    """The voies et délais de recours every decision email states (CJA R. 421-1, R. 421-5).

    Without them the delay of the recours contentieux does not run. Our sources do not name the
    competent court, hence one setting per decision type.
    """

    court_evaluation: str
    court_decision: str
    court_closing: str
    delay_months: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Recourse:
        """The courts and delay of ``Settings`` (``appeal_court_*``, ``appeal_delay_months``)."""
        return cls(
            court_evaluation=settings.appeal_court_evaluation,
            court_decision=settings.appeal_court_decision,
            court_closing=settings.appeal_court_closing,
            delay_months=settings.appeal_delay_months,
        )

    def court(self, kind: str) -> str:
        """The court competent for a decision of this kind.

        Raises:
            ValueError: ``kind`` is not a ``DecisionKind`` value (a template typo).
        """
        match DecisionKind(kind):
            case DecisionKind.EVALUATION:
                return self.court_evaluation
            case DecisionKind.DECISION:
                return self.court_decision
            case DecisionKind.CLOSING:
                return self.court_closing


def date_fr(value: dt.date) -> str:
    """A date in French, as in a letter: ``22 mai 2026``, ``1er juin 2026``.

    Args:
        value: A date, or an aware datetime (taken in Paris time).

    Raises:
        ValueError: a naive datetime (its day would depend on the machine's time zone).
    """
    if isinstance(value, dt.datetime):
        value = _in_paris(value).date()
    return french_date(value)


def paris(value: dt.datetime) -> str:
    """An instant in Paris time, in French: ``vendredi 22 mai 2026 à 18 h 00``.

    Raises:
        ValueError: a naive datetime.
    """
    local = _in_paris(value)
    return (
        f"{FRENCH_WEEKDAYS[local.weekday()]} {date_fr(local.date())} à {local.hour} h "
        f"{local.minute:02d}"
    )


def eur(cents: int) -> str:
    """An amount in euro cents, in French: ``15 000,00 €``."""
    return format_eur(cents)


def required(value: _T | None) -> _T:
    """Fail the rendering when a fact the template cannot do without is missing.

    Raises:
        ValueError: ``value`` is None.
    """
    if value is None:
        raise ValueError("a fact this template requires is missing")
    return value


def _in_paris(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: the time zone of the instant is unknown")
    return paris_time(value)


def _refuse_none(value: Any) -> Any:
    # An optional fact printed without an {% if %} guard would read "None" in a French email:
    # make it a rendering error instead.
    if value is None:
        raise ValueError("an optional fact is printed without being checked")
    return value


class EmailRenderer:
    """Renders each ``EmailTemplate`` in French from the files of a templates directory.

    Files, for each template ``<name>`` (the ``EmailTemplate`` value):

    - ``<name>.subject.j2``: the subject. Whitespace is collapsed to one line; it must carry no
      personal data (no candidate name), the case id is fine.
    - ``<name>.body.j2``: the specific text of the body.

    and shared by all:

    - ``_layout.body.j2``: greeting, the specific text (included as ``content_template``),
      signature and the note that the message is sent automatically;
    - ``_security_pack.j2``: the security-pack contacts, appended by the layout when
      ``security_pack`` is true (never in a copy for a third party);
    - ``_recourse.j2``: the voies et délais de recours, included by each decision email after
      ``{% set recourse_kind = "evaluation" %}`` (or ``"decision"``, ``"closing"``; see
      ``DecisionKind``).

    When ``facts.copy_for_third_party`` is true the layout says the message is a copy (it names
    no third party: the name was typed by the candidate, issue 12), and the subject starts with
    ``[Copie]``.

    Templates see ``facts`` (``EmailFacts``), ``security_pack`` (bool) and, when the caller
    gives it, ``recourse`` (``Recourse``: a decision email without it fails), and these filters:
    ``eur`` (cents to ``15 000,00 €``), ``paris`` (datetime to ``vendredi 22 mai 2026 à 18 h 00``),
    ``date_fr`` (date to ``22 mai 2026``) and ``required`` (fails the rendering when a fact is
    None). Undefined names are errors (``StrictUndefined``), and so is printing ``None``: guard
    optional facts with ``{% if %}``. Autoescape is off: this is plain text, not HTML.
    """

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        """Load the templates and check that every ``EmailTemplate`` has its two files.

        Args:
            templates_dir: Directory of the ``.j2`` files (the packaged ones by default).

        Raises:
            EmailTemplateError: a template file is missing (found at worker start, not at the
                first email).
        """
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
        needed = {LAYOUT_TEMPLATE, SECURITY_PACK_TEMPLATE, RECOURSE_TEMPLATE}
        for template in EmailTemplate:
            needed |= {f"{template.value}.subject.j2", f"{template.value}.body.j2"}
        missing = sorted(needed - available)
        if missing:
            raise EmailTemplateError(f"missing email templates in {templates_dir}: {missing}")

    def render(
        self,
        template: EmailTemplate,
        facts: EmailFacts,
        *,
        security_pack: bool = False,
        recourse: Recourse | None = None,
    ) -> RenderedEmail:
        """Render the subject and the body of one email.

        Args:
            template: Which email.
            facts: What it may say.
            security_pack: Append the security-pack contacts to the body (ignored in a copy for
                a third party: the contacts are the candidate's).
            recourse: The courts and delay of the voies de recours; required by the decision
                emails (evaluation_recorded, threat_reevaluated, decision, case_closed,
                time_barred).

        Raises:
            EmailTemplateError: the template is broken or needs a fact (or the recourse) that
                is missing.
        """
        name = template.value
        context: dict[str, Any] = {"facts": facts}
        if recourse is not None:
            context["recourse"] = recourse
        try:
            subject = self._env.get_template(f"{name}.subject.j2").render(context)
            body = self._env.get_template(LAYOUT_TEMPLATE).render(
                context,
                security_pack=security_pack and not facts.copy_for_third_party,
                content_template=f"{name}.body.j2",
            )
        except (jinja2.TemplateError, ValueError, TypeError, LookupError) as error:
            # The class is enough to diagnose; the message could quote a fact (personal data).
            raise EmailTemplateError(
                f"template {name!r} failed to render: {type(error).__name__}"
            ) from error
        subject = " ".join(subject.split())
        if not subject:
            raise EmailTemplateError(f"template {name!r} rendered an empty subject")
        if facts.copy_for_third_party:
            subject = COPY_SUBJECT_PREFIX + subject
        lines = [line.rstrip() for line in body.strip("\n").splitlines()]
        return RenderedEmail(subject=subject, body="\n".join(lines) + "\n")
