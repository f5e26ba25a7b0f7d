"""The one ``Settings`` of secupol. Nothing else reads the environment.

Every field has a default that runs the embedded stack on one machine; production overrides them
with ``SECUPOL_*`` environment variables (or a ``.env`` file). Secrets are ``SecretStr`` and are
never printed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from enum import StrEnum
from pathlib import Path

from limits import parse_many
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.contracts import CasePolicy
from domain.retention import ClosureOutcome, RetentionPolicy


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class StorageBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class WorkerRole(StrEnum):
    """Which of the task queue's tasks a worker process polls."""

    ALL = "all"
    WORKFLOWS = "workflows"
    ACTIVITIES = "activities"


class CnapsRegistryKind(StrEnum):
    FILE = "file"
    HTTP = "http"


class SireneRegistryKind(StrEnum):
    FILE = "file"
    INSEE = "insee"


DEVELOPMENT_DOCUMENT_KEY = "c2VjdXBvbC1kZXZlbG9wbWVudC1rZXktMzItYnl0ZXM="
"""A public key for the embedded stack only: refused in production."""
DEVELOPMENT_PAYLOAD_KEY = "c2VjdXBvbC1wYXlsb2Fkcy1kZXZlbG9wbWVudC1rZXk="
"""A public payload key for the embedded stack only: refused in production."""
DEVELOPMENT_OIDC_ISSUER = "http://127.0.0.1:8090"
"""The embedded stack's OpenID Connect provider (``python -m embedded.oidc serve``)."""
DEVELOPMENT_OIDC_CLIENT_SECRET = "secupol-embedded-oidc-client-secret"
"""The client secret the embedded provider knows: refused in production."""
DEVELOPMENT_OIDC_STATE_SECRET = "secupol-embedded-oidc-state-secret"
"""Signs the sign-in state cookie of the embedded stack: refused in production."""


RATE_LIMIT_FIELDS = (
    "rate_limit_emails",
    "rate_limit_target",
    "rate_limit_new_accounts",
    "rate_limit_sessions",
    "rate_limit_sign_in_form",
    "rate_limit_codec_sign_in",
    "rate_limit_refused_tokens",
)


class Settings(BaseSettings):
    """Configuration of every secupol process (worker, embedded services, later the API)."""

    model_config = SettingsConfigDict(
        env_prefix="SECUPOL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.DEVELOPMENT
    """``development`` (the embedded stack), ``test`` or ``production``; production refuses the
    public development keys."""
    data_dir: Path = Path("data")
    """Where the embedded stack keeps its files (Temporal SQLite, app database, mail, documents)."""

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    """The Temporal frontend, ``host:port`` (Temporal Cloud: its regional or namespace endpoint)."""
    temporal_namespace: str = "default"
    """The namespace of the cases (Temporal Cloud: ``<namespace>.<account id>``)."""
    temporal_ui_port: int = 8233
    """Port of the Web UI of the embedded dev server (``make up`` only)."""
    task_queue: str = "secupol-cases"
    """Task queue the workers poll and the API starts cases on."""
    temporal_connect_timeout_s: float = 60.0
    """How long a starting worker waits for the Temporal server to answer."""
    worker_shutdown_grace_s: float = 30.0
    """On SIGTERM, how long the worker lets activities under way finish (an email in the middle
    of SMTP, a seal) before cancelling them; keep it below the stop timeout of the supervisor
    (``stop_grace_period`` in the compose file)."""
    worker_role: WorkerRole = WorkerRole.ALL
    """Which tasks this worker process runs: ``all`` (the cases' workflow tasks and their
    activities), ``workflows`` (workflow tasks only: no database, SMTP or document store) or
    ``activities`` (emails, seals, registry lookups only). Every worker runs ``all`` unless told:
    once every case is cached, a busy worker's interpreter lock is shared half and half between
    the two kinds, so a deployment that gives each kind processes of its own, on cores of their
    own, lets neither wait for the other (docs/operations.md "Sizing a worker"). Run at least one
    process of each kind on the task queue, or the other kind's tasks wait."""
    worker_max_cached_workflows: int = Field(default=200, ge=0)
    """Cases the worker keeps in memory between their workflow tasks (Temporal's sticky cache).
    A cached case answers its next task without replaying its history; an evicted one is
    replayed at its next task. The worker's memory follows it: about 160 MiB plus 0.44 MiB per
    cached case (``bench/RESULTS.md``): with 200, 288 MiB for 400 open cases (the SDK's default,
    1,000, took 600 MiB)."""
    worker_max_concurrent_workflow_tasks: int = Field(default=20, ge=2)
    """Workflow tasks one worker runs at once (at least 2 while the cache is on). They are CPU
    work under one interpreter lock: more adds memory, not throughput (the SDK's default is
    100)."""
    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    """Activities (emails, seals, registry lookups) one worker runs at once."""
    worker_max_concurrent_local_activities: int = Field(default=100, ge=1)
    """Local activities one worker runs at once."""
    temporal_tls: bool = False
    """TLS to the Temporal frontend (a cluster behind TLS, Temporal Cloud)."""
    temporal_tls_ca_file: Path | None = None
    """CA bundle of the server certificate (system roots when unset)."""
    temporal_tls_cert_file: Path | None = None
    """Client certificate for mutual TLS (Temporal Cloud with mTLS)."""
    temporal_tls_key_file: Path | None = None
    """Private key of the client certificate."""
    temporal_tls_server_name: str | None = None
    """Overrides the name checked in the server certificate."""
    temporal_api_key: SecretStr | None = None
    """API key (Temporal Cloud); implies TLS."""

    # Payload encryption (what Temporal stores: inputs, states, results, memos, failures)
    payload_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {"dev-payload-1": SecretStr(DEVELOPMENT_PAYLOAD_KEY)}
    )
    """Key id to base64 of a 32-byte AES-GCM key. Every key decrypts; ``payload_key_id``
    encrypts. Rotate by adding a key, then switching ``payload_key_id`` to it."""
    payload_key_id: str = "dev-payload-1"
    """The key that encrypts new payloads."""
    codec_cors_origins: list[str] = Field(
        default_factory=lambda: ["http://localhost:8233", "http://127.0.0.1:8233"]
    )
    """Origins allowed to call the codec endpoint: the Temporal Web UI's."""

    # Observability
    log_format: str = "text"
    """``text`` for people at a terminal, ``json`` for a log pipeline."""
    log_level: str = "INFO"
    """Level of the processes' logs (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``)."""
    worker_metrics_address: str | None = "127.0.0.1:9464"
    """Where the worker serves Temporal SDK metrics for Prometheus (None: not served)."""

    # App database
    database_url: str | None = None
    """SQLAlchemy async URL; defaults to a SQLite file under ``data_dir``."""

    # Email
    smtp_host: str = "127.0.0.1"
    """The SMTP relay (the embedded mailbox by default)."""
    smtp_port: int = 8025
    """Its port (the embedded mailbox listens on 8025; a relay usually on 25, 465 or 587)."""
    smtp_use_tls: bool = False
    """Implicit TLS (SMTPS, usually port 465)."""
    smtp_starttls: bool = False
    """Upgrade the connection with STARTTLS (usually port 587)."""
    smtp_username: str | None = None
    """Relay account, with ``smtp_password`` (both or neither)."""
    smtp_password: SecretStr | None = None
    """Password of ``smtp_username``."""
    smtp_timeout_s: float = 20.0
    """How long one SMTP exchange may take before the attempt fails (and is retried)."""
    mail_from: str = "Sécu'Pol <ne-pas-repondre@secupol.localhost>"
    """Sender (``From``) of every email."""
    mail_reply_to: str | None = None
    """``Reply-To`` of every email, if set."""

    # Documents
    storage_backend: StorageBackend = StorageBackend.LOCAL
    """Where documents live: ``local`` (disk) or ``s3`` (an S3-compatible store)."""
    documents_dir: Path | None = None
    """Local backend: where encrypted objects live; defaults to ``data_dir / "documents"``."""
    s3_endpoint_url: str | None = None
    """S3 backend: endpoint of an S3-compatible store (None for AWS itself)."""
    s3_bucket: str = "secupol-documents"
    """S3 backend: the bucket (created if missing)."""
    s3_region: str = "eu-west-3"
    """S3 backend: the bucket's region (MinIO: ``us-east-1`` unless configured otherwise)."""
    s3_access_key_id: str | None = None
    """S3 backend: access key; the usual AWS credential chain when unset."""
    s3_secret_access_key: SecretStr | None = None
    """S3 backend: secret of ``s3_access_key_id``."""
    document_keys: dict[str, SecretStr] = Field(
        default_factory=lambda: {"dev-1": SecretStr(DEVELOPMENT_DOCUMENT_KEY)}
    )
    """Key id to base64 of a 32-byte AES-GCM key. Every key decrypts; the current one encrypts."""
    document_key_id: str = "dev-1"
    """The key that encrypts new documents."""
    max_document_bytes: int = 20 * 1024 * 1024
    """Largest accepted upload, in bytes (20 MiB)."""
    max_case_bytes: int = 200 * 1024 * 1024
    """Most bytes of documents one case may hold (200 MiB)."""

    # Registries (CNAPS authorisations, SIRENE)
    cnaps_registry: CnapsRegistryKind = CnapsRegistryKind.FILE
    """CNAPS authorisations: ``file`` (a CSV referential) or ``http`` (an HTTP adapter)."""
    cnaps_file: Path | None = None
    """CSV referential; defaults to the sample shipped in ``activities/registries/data``."""
    cnaps_http_url: str | None = None
    """HTTP adapter: ``GET {url}/{number}`` answers the authorisation as JSON, 404 if unknown."""
    cnaps_http_token: SecretStr | None = None
    """HTTP adapter: sent as ``Authorization: Bearer <token>`` when set."""
    sirene_registry: SireneRegistryKind = SireneRegistryKind.FILE
    """SIRENE: ``file`` (a CSV referential) or ``insee`` (the INSEE API)."""
    sirene_file: Path | None = None
    """CSV referential; defaults to the sample shipped in ``activities/registries/data``."""
    insee_api_url: str = "https://api.insee.fr/api-sirene/3.11"
    """INSEE adapter: base URL of the SIRENE API."""
    insee_api_key: SecretStr | None = None
    """INSEE adapter: the API key (required with ``sirene_registry=insee``)."""
    registry_timeout_s: float = 10.0
    """How long one registry lookup may take before the attempt fails."""
    registry_max_attempts: int = 5
    """Attempts before a line is marked "à vérifier manuellement" instead of blocking the case."""

    # Accounts
    sign_in_link_ttl_minutes: int = 15
    """A one-time sign-in link expires this long after it is sent."""
    session_ttl_hours: int = 12
    """A session opened by a sign-in link lasts this long."""
    staff_token_ttl_days: int = 90
    """Staff tokens printed by the admin command last this long (then a new one is made)."""

    sign_in_links_per_hour: int = 5
    """Sign-in links sent to one address in an hour; more requests are answered but not sent."""

    # HTTP API
    api_host: str = "127.0.0.1"
    """Interface ``python -m api`` listens on (``0.0.0.0`` in a container)."""
    api_port: int = 8000
    """Port ``python -m api`` listens on."""
    public_url: str = "http://localhost:8000"
    """Where users reach the API: the base of the links in sign-in emails."""
    api_request_timeout_s: float = 30.0
    """How long the API waits for the workflow to answer an action before answering 503."""

    # Staff sign-in through OpenID Connect (ProConnect in production; docs/operations.md)
    oidc_issuer: str | None = DEVELOPMENT_OIDC_ISSUER
    """Issuer URL of the provider staff sign in with (its discovery document is
    ``{issuer}/.well-known/openid-configuration``); empty: staff sign-in by OIDC is off and staff
    use tokens from ``python -m api.admin``. HTTPS in production."""
    oidc_client_id: str = "secupol-embedded"
    """Client id of secupol at the provider."""
    oidc_client_secret: SecretStr = SecretStr(DEVELOPMENT_OIDC_CLIENT_SECRET)
    """Client secret of secupol at the provider."""
    oidc_token_auth_method: str = "client_secret_basic"
    """How the client authenticates at the token endpoint: ``client_secret_basic`` or
    ``client_secret_post`` (whichever the provider registered)."""
    oidc_scopes: str = "openid email"
    """Scopes asked for (space-separated); the address must come back as the ``email`` claim."""
    oidc_redirect_url: str | None = None
    """The callback registered at the provider; defaults to
    ``{public_url}/auth/staff/callback``."""
    oidc_state_secret: SecretStr = SecretStr(DEVELOPMENT_OIDC_STATE_SECRET)
    """Signs the short-lived cookie that carries a sign-in's state, nonce and PKCE verifier
    (32 random bytes or more:
    ``python3 -c "import secrets; print(secrets.token_urlsafe(32))"``)."""
    oidc_require_email_verified: bool = True
    """Refuse an address the provider does not mark ``email_verified: true``. A provider that
    never sends the claim but only hands out addresses it checked may be trusted by setting it
    false (an explicit ``email_verified: false`` is always refused)."""
    oidc_timeout_s: float = 10.0
    """How long one request to the provider may take."""

    # Case timers (DOMAIN.md: defaults chosen where the law is silent)
    deposit_reminder_days: list[int] = Field(default_factory=lambda: [14, 3, 1])
    """Reminders are sent this many days before the deposit deadline."""
    deposit_reminder_spread_minutes: int = 60
    """The reminders counted back from the deposit deadline (the candidate's and the staff's)
    are sent up to this many minutes after their time, each case by an offset of its own: the
    cases of an election share the deadline, and would otherwise all wake in the same second.
    The deadline itself is exact. 0 sends them at the exact time."""
    answer_delay_days: int = 15
    """Days the candidate has to answer the CNCCFP's observations."""
    payment_followup_days: int = 30
    """Days after a decision before the candidate is reminded to contact the prefecture."""
    payment_followup_max: int = 3
    """Most such follow-up reminders."""
    prefecture_reminder_after_days: int = 7
    """Staff reminder to the prefecture this many days after an evaluation is requested, then
    every ``prefecture_reminder_every_days`` while it is pending (DOMAIN.md rule 3)."""
    prefecture_reminder_every_days: int = 7
    """Interval between the prefecture's reminders for a pending evaluation."""
    prefecture_reminder_before_days: list[int] = Field(default_factory=lambda: [21, 7])
    """The prefecture is also reminded this many days before the deposit deadline."""
    cnccfp_reminder_after_days: int = 2
    """Staff reminder to the CNCCFP this many days after a space is requested and not opened."""
    cnccfp_reminder_before_days: list[int] = Field(default_factory=lambda: [7, 3, 1])
    """The CNCCFP is also reminded this many days before the deposit deadline."""
    decision_reminder_before_days: list[int] = Field(default_factory=lambda: [30, 7])
    """Reminders to the CNCCFP this many days before a decision is due (six months after the
    deposit, DOMAIN.md rule 5)."""
    cnccfp_email: str = "secupol@cnccfp.localhost"
    """Address of the CNCCFP service that receives staff reminders and space requests."""
    email_give_up_days: float = 3.0
    """Days an email is retried (relay down, recipient server answering 4xx) before it is given
    up: marked failed on the case, with an operator note and the worker's metric
    ``secupol_emails_given_up``, so that one bad recipient never holds the rest of a case."""
    receipt_grace_minutes: int = 10
    """A deposit the API received before the deadline is still taken this long after it, while
    the worker catches up (DOMAIN.md rule 4); the time bar waits as long."""
    appeal_court_evaluation: str = "le tribunal administratif territorialement compétent"
    """Court named in the voies de recours of a prefect's evaluation decision."""
    appeal_court_decision: str = "le tribunal administratif de Paris"
    """Court named in the voies de recours of a CNCCFP decision on the amount."""
    appeal_court_closing: str = "le tribunal administratif de Paris"
    """Court named in the voies de recours of a CNCCFP closing of a case."""
    appeal_delay_months: int = 2
    """Delay of the recours contentieux (CJA R. 421-1), stated in every decision."""

    # The élus' procedures (issue 15, DOMAIN.md "The élus' side").
    protection_extend_to_working_day: bool = False
    """Functional protection: a fifth jour franc on a Saturday, a Sunday or a public holiday (of
    France, or of the collectivité's overseas territory) moves the end of the delay to the next
    working day. Off by default: our reading of the CGCT does not extend it."""
    protection_convening_reminder_days: int = Field(default=15, ge=0)
    """Functional protection: members asked for the council to be convened and no convocation is
    recorded this many days before the last day it may sit (the end of the four months): the
    collectivité is reminded once (at once for a request recorded later)."""
    alert_button_loan_months: int = 3
    """Length of an alert-button loan period (the prefect's decision: three months, renewable)."""
    alert_button_reminder_days: int = 14
    """The prefecture and the official are reminded this many days before a loan period ends."""
    alert_button_overdue_reminder_days: int = 7
    """A loan period ended with neither renewal nor return: the prefecture is reminded again
    this often until it records one (the loan never lapses silently)."""
    state_protection_reminder_days: int = 15
    """A candidate's State functional-protection request (R. 39-11) without a decision: the
    prefecture is reminded this often."""
    state_protection_requires_complaint: bool = True
    """R. 39-11 conditions, kept as settings until the decree's text is read: the request must
    give the reference of the complaint (procès-verbal de plainte)."""
    state_protection_requires_candidacy_date: bool = True
    """R. 39-11 conditions: the request must give the date the candidacy was made public."""

    # Abuse limits (issue 12): "N/minute;M/hour" strings of the ``limits`` library, per client
    # address unless said otherwise.
    rate_limit_storage_url: str = "memory://"
    """Where the counters live: ``memory://`` (one process, the embedded stack) or Redis
    (``redis://host:6379/0``, shared by every API process). If Redis cannot be reached, requests
    go through (fail open) and each failure is logged at ERROR."""
    rate_limit_key_prefix: str = "secupol"
    """Prefix of the counters' keys (several deployments may share one Redis)."""
    rate_limit_secret: SecretStr | None = None
    """Key of the digest that names a target address in the counters (never the address in
    clear). Unset: a random key per process, enough for ``memory://``; with Redis, set the same
    secret on every API process so that they count an address in one bucket."""
    trusted_proxies: list[str] = Field(default_factory=list)
    """CIDRs of the reverse proxies in front of the API (``["10.0.0.0/8"]``). Only a request
    whose peer is one of them has its client taken from ``X-Forwarded-For`` (the right-most
    address that is not a trusted proxy); no header is trusted otherwise."""
    rate_limit_emails: str = "5/minute;20/hour"
    """Requests that email an address (account creation, sign-in links, third-party
    designation), one bucket for the three."""
    rate_limit_target: str = "3/hour;10/day"
    """Requests naming one email address, whoever sends them."""
    rate_limit_new_accounts: str = "200/hour"
    """Account creations for the whole service (a ceiling on emails to new addresses)."""
    rate_limit_sessions: str = "10/minute;100/hour"
    """Sign-in tokens checked (``POST /auth/sessions``)."""
    rate_limit_sign_in_form: str = "10/minute;100/hour"
    """Sign-in tokens checked by the HTML form of the emailed link, and staff sign-in callbacks
    (OpenID Connect)."""
    rate_limit_codec_sign_in: str = "10/minute;100/hour"
    """Sign-ins to the codec page of the Web UI."""
    rate_limit_refused_tokens: str = "30/minute;300/hour"
    """Bearer tokens refused; past it, every request with a token is refused for a while."""
    # Codec sessions (the Temporal Web UI's decoding, issue 12)
    codec_session_ttl_hours: int = Field(default=8, ge=1, le=24 * 7)
    """A codec session (the cookie an operator gets at ``/codec/connexion`` for the Temporal Web
    UI) lasts this long; it is usable on ``/codec/`` only and revocable at
    ``/codec/deconnexion``."""
    # Retention (docs/operations.md "Retention": a project choice, the law gives no delay)
    retention_days_paid: float = Field(default=1826, ge=0)
    """Days a paid case's personal data and documents are kept after it closed (five years: the
    payment can be challenged and public accounts audited meanwhile)."""
    retention_days_rejected: float = Field(default=365, ge=0)
    """Days a rejected case is kept after it closed (the two-month appeal delay, plus margin)."""
    retention_days_withdrawn: float = Field(default=365, ge=0)
    """Days a withdrawn case is kept after it closed."""
    retention_days_time_barred: float = Field(default=365, ge=0)
    """Days a time-barred (forclos) case is kept after it closed."""
    retention_days_closed: float = Field(default=365, ge=0)
    """Days a case closed by the CNCCFP is kept after it closed."""
    retention_days_fp_final: float = Field(default=1826, ge=0)
    """Days a functional protection that became final is kept after its four months ended (five
    years: the collectivité pays the official's costs under it while the proceedings last)."""
    retention_days_fp_withdrawn: float = Field(default=365, ge=0)
    """Days a functional protection withdrawn or abrogated by the council is kept (the two-month
    appeal delay against the deliberation, plus margin)."""
    retention_days_ab_returned: float = Field(default=365, ge=0)
    """Days an alert-button loan is kept after the button was returned."""
    retention_days_cp_granted: float = Field(default=1826, ge=0)
    """Days a candidate's State functional protection granted (R. 39-11) is kept after the
    decision (five years: the State pays under it)."""
    retention_days_cp_refused: float = Field(default=365, ge=0)
    """Days a refused State-protection request is kept after the decision."""
    retention_days_cp_withdrawn: float = Field(default=365, ge=0)
    """Days a State-protection request the candidate withdrew is kept."""
    retention_schedule_enabled: bool = True
    """The worker creates (or updates) the Temporal Schedule of the daily purge at start."""
    retention_cron: str = "30 3 * * *"
    """When the purge runs (cron, UTC)."""
    retention_batch_size: int = Field(default=100, ge=1)
    """Most cases one run of the purge handles (the next run takes the rest)."""

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.smtp_use_tls and self.smtp_starttls:
            raise ValueError("smtp_use_tls and smtp_starttls are exclusive")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("smtp_username and smtp_password go together")
        if self.document_key_id not in self.document_keys:
            raise ValueError("document_key_id must name one of document_keys")
        if self.environment == Environment.PRODUCTION and any(
            key.get_secret_value() == DEVELOPMENT_DOCUMENT_KEY
            for key in self.document_keys.values()
        ):
            raise ValueError("the development document key may not be used in production")
        if self.payload_key_id not in self.payload_keys:
            raise ValueError("payload_key_id must name one of payload_keys")
        if self.environment == Environment.PRODUCTION and any(
            key.get_secret_value() == DEVELOPMENT_PAYLOAD_KEY for key in self.payload_keys.values()
        ):
            raise ValueError("the development payload key may not be used in production")
        if self.oidc_token_auth_method not in {"client_secret_basic", "client_secret_post"}:
            raise ValueError("oidc_token_auth_method is client_secret_basic or client_secret_post")
        if self.environment == Environment.PRODUCTION and self.oidc_issuer:
            if not self.oidc_issuer.startswith("https://"):
                raise ValueError("oidc_issuer must be an https:// URL in production")
            if self.oidc_client_secret.get_secret_value() == DEVELOPMENT_OIDC_CLIENT_SECRET:
                raise ValueError("the development OIDC client secret may not be used in production")
            if self.oidc_state_secret.get_secret_value() == DEVELOPMENT_OIDC_STATE_SECRET:
                raise ValueError("the development OIDC state secret may not be used in production")
            if len(self.oidc_state_secret.get_secret_value()) < 32:
                raise ValueError("oidc_state_secret needs 32 characters or more in production")
            if not self.oidc_client_id:
                raise ValueError("oidc_client_id is required with oidc_issuer")
        if self.log_format not in {"text", "json"}:
            raise ValueError("log_format is text or json")
        for name in RATE_LIMIT_FIELDS:
            try:
                parse_many(getattr(self, name))
            except ValueError:
                raise ValueError(f"{name} is not a rate limit such as 5/minute;20/hour") from None
        for cidr in self.trusted_proxies:
            ipaddress.ip_network(cidr, strict=False)
        if (
            self.environment == Environment.PRODUCTION
            and not self.rate_limit_storage_url.startswith(("memory", "async+memory"))
            and self.rate_limit_secret is None
        ):
            raise ValueError("rate_limit_secret is required with a shared rate-limit storage")
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'secupol.sqlite3').resolve()}"

    @property
    def oidc_callback_url(self) -> str:
        """The staff sign-in's redirect URI, as registered at the provider."""
        return self.oidc_redirect_url or self.public_url.rstrip("/") + "/auth/staff/callback"

    @property
    def resolved_documents_dir(self) -> Path:
        return self.documents_dir or self.data_dir / "documents"

    @property
    def mail_dir(self) -> Path:
        """Maildir of the embedded SMTP server."""
        return self.data_dir / "mail"

    def retention_policy(self) -> RetentionPolicy:
        """Retention delay of each closure outcome (cases and élus' procedures)."""
        return RetentionPolicy.from_days(
            {
                ClosureOutcome.PAID: self.retention_days_paid,
                ClosureOutcome.REJECTED: self.retention_days_rejected,
                ClosureOutcome.WITHDRAWN: self.retention_days_withdrawn,
                ClosureOutcome.TIME_BARRED: self.retention_days_time_barred,
                ClosureOutcome.CLOSED: self.retention_days_closed,
                ClosureOutcome.PROTECTION_FINAL: self.retention_days_fp_final,
                ClosureOutcome.PROTECTION_WITHDRAWN: self.retention_days_fp_withdrawn,
                ClosureOutcome.ALERT_BUTTON_RETURNED: self.retention_days_ab_returned,
                ClosureOutcome.STATE_PROTECTION_GRANTED: self.retention_days_cp_granted,
                ClosureOutcome.STATE_PROTECTION_REFUSED: self.retention_days_cp_refused,
                ClosureOutcome.STATE_PROTECTION_WITHDRAWN: self.retention_days_cp_withdrawn,
            }
        )

    def case_policy(self) -> CasePolicy:
        """Timer settings given to each new case."""
        return CasePolicy(
            reminder_offsets=[dt.timedelta(days=days) for days in self.deposit_reminder_days],
            reminder_spread=dt.timedelta(minutes=self.deposit_reminder_spread_minutes),
            answer_delay=dt.timedelta(days=self.answer_delay_days),
            payment_followup_delay=dt.timedelta(days=self.payment_followup_days),
            payment_followup_max=self.payment_followup_max,
            prefecture_reminder_after=dt.timedelta(days=self.prefecture_reminder_after_days),
            prefecture_reminder_every=dt.timedelta(days=self.prefecture_reminder_every_days),
            prefecture_reminder_before=[
                dt.timedelta(days=days) for days in self.prefecture_reminder_before_days
            ],
            cnccfp_reminder_after=dt.timedelta(days=self.cnccfp_reminder_after_days),
            cnccfp_reminder_before=[
                dt.timedelta(days=days) for days in self.cnccfp_reminder_before_days
            ],
            decision_reminder_before=[
                dt.timedelta(days=days) for days in self.decision_reminder_before_days
            ],
            receipt_grace=dt.timedelta(minutes=self.receipt_grace_minutes),
            email_give_up_after=dt.timedelta(days=self.email_give_up_days),
            registry_max_attempts=self.registry_max_attempts,
        )
