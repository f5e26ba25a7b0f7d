"""Retention of closed cases: how long each outcome is kept, and what a purge removes.

The law gives no retention delay for these records (DOMAIN.md is silent); the delays are settings
(``SECUPOL_RETENTION_DAYS_*``), their defaults a project choice explained in
``docs/operations.md`` ("Retention"), to be confirmed with the data protection officer:

- a **paid** case is kept five years after its closing: the State's payment can be challenged and
  public accounts audited during that time, and the dossier is its proof;
- every other outcome (rejected, withdrawn, time barred, closed by the CNCCFP) is kept one year:
  the two-month appeal delay stated in every decision, plus a margin for a late notification and
  for a case brought before the court.

The élus' procedures (``domain.elus``) are purged the same way, one outcome per terminal stage
(their ids go where a case id goes: ``case_closures``, the audit log):

- a functional protection that became **final**, and a State protection **granted** (R. 39-11),
  are kept five years: the protection is the title under which public money pays the official's
  or the candidate's costs (care, psychological help, lawyers) for as long as the proceedings
  last, and the payments can be audited;
- a protection **withdrawn** by the council, a State protection **refused** or **withdrawn**, and
  a returned **alert button** are kept one year: the two-month appeal delay plus margin, and for
  the button a look back if the official is threatened again.

Pure rules only: no clock, no I/O; the purge job (``core.retention``) passes ``now`` in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from pydantic import Field

from domain.contracts import Contract
from domain.elus import ElusStage
from domain.stages import Stage


class ClosureOutcome(StrEnum):
    """How a case ended: its terminal stage (``time_barred`` is the French *forclos*)."""

    PAID = "paid"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    TIME_BARRED = "time_barred"
    CLOSED = "closed"
    # The élus' procedures: their terminal stage's value.
    PROTECTION_FINAL = "fp_final"
    PROTECTION_WITHDRAWN = "fp_withdrawn"
    ALERT_BUTTON_RETURNED = "ab_returned"
    STATE_PROTECTION_GRANTED = "cp_granted"
    STATE_PROTECTION_REFUSED = "cp_refused"
    STATE_PROTECTION_WITHDRAWN = "cp_withdrawn"


OUTCOME_OF_STAGE: dict[Stage, ClosureOutcome] = {
    Stage.PAID: ClosureOutcome.PAID,
    Stage.REJECTED: ClosureOutcome.REJECTED,
    Stage.WITHDRAWN: ClosureOutcome.WITHDRAWN,
    Stage.TIME_BARRED: ClosureOutcome.TIME_BARRED,
    Stage.CLOSED: ClosureOutcome.CLOSED,
}
"""Every terminal stage, and only those (``tests/domain/test_retention.py`` checks it)."""

OUTCOME_OF_ELUS_STAGE: dict[ElusStage, ClosureOutcome] = {
    ElusStage.FP_FINAL: ClosureOutcome.PROTECTION_FINAL,
    ElusStage.FP_WITHDRAWN: ClosureOutcome.PROTECTION_WITHDRAWN,
    ElusStage.AB_RETURNED: ClosureOutcome.ALERT_BUTTON_RETURNED,
    ElusStage.CP_GRANTED: ClosureOutcome.STATE_PROTECTION_GRANTED,
    ElusStage.CP_REFUSED: ClosureOutcome.STATE_PROTECTION_REFUSED,
    ElusStage.CP_WITHDRAWN: ClosureOutcome.STATE_PROTECTION_WITHDRAWN,
}
"""Every terminal stage of the élus' procedures, and only those."""

DEFAULT_RETENTION_DAYS: dict[ClosureOutcome, int] = {
    ClosureOutcome.PAID: 1826,
    ClosureOutcome.REJECTED: 365,
    ClosureOutcome.WITHDRAWN: 365,
    ClosureOutcome.TIME_BARRED: 365,
    ClosureOutcome.CLOSED: 365,
    ClosureOutcome.PROTECTION_FINAL: 1826,
    ClosureOutcome.PROTECTION_WITHDRAWN: 365,
    ClosureOutcome.ALERT_BUTTON_RETURNED: 365,
    ClosureOutcome.STATE_PROTECTION_GRANTED: 1826,
    ClosureOutcome.STATE_PROTECTION_REFUSED: 365,
    ClosureOutcome.STATE_PROTECTION_WITHDRAWN: 365,
}
"""Five years (1826 days, leap days included) where public money was (or may be) paid under the
outcome, one year for the others."""


@dataclass(frozen=True)
class RetentionPolicy:
    """The retention delay of each outcome (from the settings)."""

    delays: dict[ClosureOutcome, dt.timedelta]

    @classmethod
    def from_days(cls, days: dict[ClosureOutcome, float]) -> RetentionPolicy:
        """A policy from a number of days per outcome (fractions allowed, for tests).

        Raises:
            ValueError: an outcome is missing or a delay is negative.
        """
        missing = set(ClosureOutcome) - set(days)
        if missing:
            raise ValueError(f"no retention delay for {', '.join(sorted(missing))}")
        if any(value < 0 for value in days.values()):
            raise ValueError("a retention delay cannot be negative")
        return cls({outcome: dt.timedelta(days=days[outcome]) for outcome in ClosureOutcome})

    def purge_due_at(self, outcome: ClosureOutcome, closed_at: dt.datetime) -> dt.datetime:
        """When the personal data of a case closed at ``closed_at`` with ``outcome`` is purged.

        Args:
            outcome: How the case ended.
            closed_at: When it ended (aware).

        Raises:
            ValueError: ``closed_at`` is naive.
        """
        if closed_at.tzinfo is None:
            raise ValueError("closed_at must be timezone-aware")
        return closed_at + self.delays[outcome]


def outcome_of(stage: str | None) -> ClosureOutcome | None:
    """The closure outcome of a stage name (a case's or an élus' procedure's), or None if it is
    not terminal (or unknown)."""
    if stage is None:
        return None
    if stage in {value.value for value in Stage}:
        return OUTCOME_OF_STAGE.get(Stage(stage))
    if stage in {value.value for value in ElusStage}:
        return OUTCOME_OF_ELUS_STAGE.get(ElusStage(stage))
    return None


def is_due(purge_due_at: dt.datetime, now: dt.datetime, *, before_due: bool = False) -> bool:
    """Whether a case whose purge falls due at ``purge_due_at`` is purged at ``now``.

    ``before_due`` is the operator's explicit override (``retention purge --before-due``), for a
    case that must go at once (an erasure the DPO granted).
    """
    return before_due or purge_due_at <= now


class PurgeAction(StrEnum):
    """What a purge does to one kind of record."""

    DELETE = "delete"
    """The rows (and objects) are deleted."""
    DELETE_IF_UNUSED = "delete_if_unused"
    """Deleted only when no other case still needs them."""
    KEEP = "keep"
    """Kept: holds no personal data (ids, dates, codes)."""


@dataclass(frozen=True)
class RecordRule:
    """One kind of record a case leaves, whether it carries personal data, and its fate."""

    record: str
    personal: bool
    action: PurgeAction
    why: str


PURGED_RECORDS: tuple[RecordRule, ...] = (
    RecordRule(
        "document objects",
        True,
        PurgeAction.DELETE_IF_UNUSED,
        "the files themselves; content-addressed, so an object another case also holds is kept "
        "until that case is purged too",
    ),
    RecordRule("documents", True, PurgeAction.DELETE, "file names, uploader, sizes, hashes"),
    RecordRule("case_messages", True, PurgeAction.DELETE, "what the parties wrote"),
    RecordRule(
        "email_outbox", True, PurgeAction.DELETE, "recipient addresses of the case's emails"
    ),
    RecordRule("invoice_claims", True, PurgeAction.DELETE, "SIREN and invoice references"),
    RecordRule("case_mandates", True, PurgeAction.DELETE, "who acted for the candidate"),
    RecordRule(
        "temporal executions",
        True,
        PurgeAction.DELETE,
        "every run of the case's workflow, its history and visibility record (payloads are "
        "encrypted; deleting them removes even the ciphertext)",
    ),
    RecordRule(
        "accounts",
        True,
        PurgeAction.DELETE_IF_UNUSED,
        "a candidate's, third party's or official's account, only when no other case or élus' "
        "procedure (open, closed or not yet purged) names it; staff accounts are never touched",
    ),
    RecordRule(
        "audit_log",
        False,
        PurgeAction.KEEP,
        "opaque ids, action names and outcomes only; the purge itself adds one row",
    ),
    RecordRule(
        "case_closures",
        False,
        PurgeAction.KEEP,
        "case or procedure id, outcome and dates: the proof that the purge happened (the "
        "requester's account id of an élus' procedure is cleared by the purge)",
    ),
)
"""What a purge removes; ``core.retention`` follows it and the runbook quotes it."""


# --- Contracts of the purge workflow and its activities -----------------------------------------

RETENTION_WORKFLOW_TYPE = "RetentionPurgeWorkflow"
RETENTION_SCHEDULE_ID = "secupol-retention-purge"
"""The Temporal Schedule that starts the purge; the workflow runs under ids derived from it."""
RETENTION_ACTOR_ID = "retention"
"""The actor of the audit rows the scheduled purge writes."""


class RetentionPurgeInput(Contract):
    """One run of the purge."""

    batch_size: int = 100
    """Most cases this run purges; the next run takes the rest."""


class RetentionPurgeResult(Contract):
    recorded: int = 0
    """Closed cases newly recorded in ``case_closures``."""
    purged: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    """Cases whose purge failed after its retries (the next run tries them again)."""


class RecordClosuresInput(Contract):
    now: dt.datetime


class RecordClosuresResult(Contract):
    recorded: int = 0


class ListDueCasesInput(Contract):
    now: dt.datetime
    limit: int = 100


class ListDueCasesResult(Contract):
    case_ids: list[str] = Field(default_factory=list)


class PurgeCaseInput(Contract):
    case_id: str
    now: dt.datetime


class PurgeCaseResult(Contract):
    """What was removed, counted (no content)."""

    case_id: str
    already_purged: bool = False
    document_rows: int = 0
    document_objects: int = 0
    messages: int = 0
    emails: int = 0
    invoice_claims: int = 0
    mandates: int = 0
    workflow_runs: int = 0
    accounts: int = 0
