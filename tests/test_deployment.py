"""The production files hold together: the compose file, the Dockerfile, the example env files,
the alert rules, the runbook and the configuration reference.

No Docker engine runs here: the compose file is checked against the compose specification
(``check-jsonschema``'s vendored schema, offline), and its production environment is fed to the
real ``Settings``.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.observability import ApiMetrics, DecisionCounts
from core import settings_reference
from core.settings import Environment, Settings, StorageBackend, WorkerRole
from domain.visibility import SEARCH_ATTRIBUTE_TYPES
from workflows.case import EMAILS_GIVEN_UP_METRIC

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PRODUCTION_ENV = ROOT / "deploy" / "production.env.example"
TEMPORAL_CLOUD_ENV = ROOT / "deploy" / "temporal-cloud.env.example"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "operations.md"

APP_SERVICES = ("migrate", "api", "worker", "activity-worker")
"""The services that run the secupol image, configured by ``SECUPOL_*`` settings."""

COMPOSE_ONLY = frozenset(
    {"SECUPOL_WORKER_REPLICAS", "SECUPOL_ACTIVITY_WORKER_REPLICAS", "SECUPOL_IMAGE"}
)
"""``SECUPOL_*`` names that the compose file reads for itself and are no setting."""

_NAME = re.compile(r"SECUPOL_[A-Z0-9_]+")
_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def _compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def _read_env_file(path: Path) -> dict[str, str]:
    """A dotenv file as compose reads it: ``KEY=value``, quotes removed, comments skipped."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        assert separator, f"{path.name}: not KEY=value: {line!r}"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("braced") or match.group("bare")
        value = variables.get(name)
        operator = match.group("operator") or ""
        unset = value is None or (operator.startswith(":") and value == "")
        if operator.endswith("-") and unset:
            return match.group("argument") or ""
        if operator.endswith("?") and unset:
            raise AssertionError(f"${{{name}}} is required: {match.group('argument')}")
        return value or ""

    return _INTERPOLATION.sub(replace, text)


def _service_environment(service: str, variables: dict[str, str]) -> dict[str, str]:
    environment = _compose()["services"][service].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {
        key: _interpolate("" if value is None else str(value), variables)
        for key, value in environment.items()
    }


def _settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``Settings()`` as a container with exactly this environment would build it."""
    for name in [name for name in os.environ if name.startswith("SECUPOL_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "path", [COMPOSE_FILE, *sorted((ROOT / "deploy").glob("*.env.example"))], ids=lambda p: p.name
)
def test_every_secupol_variable_is_a_setting(path: Path) -> None:
    named = set(_NAME.findall(path.read_text(encoding="utf-8"))) - COMPOSE_ONLY
    assert named, "no SECUPOL_ variable found"
    prefix = str(Settings.model_config["env_prefix"])
    unknown = {
        name for name in named if name.removeprefix(prefix).lower() not in Settings.model_fields
    }
    assert not unknown, f"not settings (typos?): {sorted(unknown)}"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_production_environment_is_accepted_by_settings(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = _read_env_file(PRODUCTION_ENV)
    settings = _settings_from(_service_environment(service, variables), monkeypatch)
    assert settings.environment is Environment.PRODUCTION
    assert settings.resolved_database_url.startswith("postgresql+asyncpg://secupol:")
    assert settings.resolved_database_url.endswith("@postgresql:5432/secupol")
    assert settings.temporal_address == "temporal:7233"
    assert settings.storage_backend is StorageBackend.S3
    assert settings.s3_endpoint_url == "http://minio:9000"
    assert (settings.smtp_host, settings.smtp_port) == ("mailpit", 1025)
    assert settings.log_format == "json"
    assert settings.api_host == "0.0.0.0"
    assert settings.worker_metrics_address == "0.0.0.0:9464"
    assert settings.codec_cors_origins == ["http://localhost:8080"]
    # The activity workers run activities only; every other process keeps the default.
    role = WorkerRole.ACTIVITIES if service == "activity-worker" else WorkerRole.ALL
    assert settings.worker_role is role


def test_example_keys_are_usable_and_marked_as_examples() -> None:
    values = _read_env_file(PRODUCTION_ENV)
    for keys_name, id_name in (
        ("SECUPOL_DOCUMENT_KEYS", "SECUPOL_DOCUMENT_KEY_ID"),
        ("SECUPOL_PAYLOAD_KEYS", "SECUPOL_PAYLOAD_KEY_ID"),
    ):
        keys = json.loads(values[keys_name])
        assert values[id_name] in keys
        for key_id, key in keys.items():
            assert key_id.startswith("EXAMPLE"), "an example key must say so in its id"
            assert len(base64.b64decode(key, validate=True)) == 32
    assert PRODUCTION_ENV.read_text(encoding="utf-8").startswith("# EXAMPLE — replace")


def test_temporal_cloud_example_is_accepted_by_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variables = _read_env_file(PRODUCTION_ENV) | _read_env_file(TEMPORAL_CLOUD_ENV)
    # Compose fills the services' environment from both --env-file options, and also gives the
    # file to the containers (env_file), whose `environment` entries win.
    environment = _read_env_file(TEMPORAL_CLOUD_ENV) | _service_environment("worker", variables)
    settings = _settings_from(environment, monkeypatch)
    assert settings.temporal_address.endswith(".api.temporal.io:7233")
    assert settings.temporal_api_key is not None
    assert settings.temporal_tls
    for service in ("api", "worker"):
        env_files = _compose()["services"][service]["env_file"]
        assert {"path": ".env.temporal", "required": False} in env_files


def test_temporal_setup_registers_every_search_attribute() -> None:
    (script,) = _compose()["services"]["temporal-setup"]["command"]
    registered = dict(re.findall(r"--name (\w+) --type (\w+)", script))
    assert registered == SEARCH_ATTRIBUTE_TYPES


def test_configuration_reference_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "core.settings_reference", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_configuration_reference_reads_sections_and_docstrings() -> None:
    source = '''
class Settings:
    model_config = {}

    environment: str = "development"

    # Email (the relay)
    smtp_host: str = "127.0.0.1"
    """Where the relay listens."""
    smtp_port: int = 25
'''
    docs = settings_reference.read_source_docs(source)
    assert docs["environment"] == settings_reference.SettingDoc("General", "", "")
    assert docs["smtp_host"] == settings_reference.SettingDoc(
        "Email", "The relay", "Where the relay listens."
    )
    assert docs["smtp_port"].doc == ""


def test_configuration_reference_hides_secrets() -> None:
    page = settings_reference.render()
    fields = Settings.model_fields
    assert "`SECUPOL_DOCUMENT_KEYS` | JSON object: string → secret | `dev-1`: (secret) |" in page
    for name, field in fields.items():
        assert f"`{settings_reference.environment_variable(name)}`" in page
        default = field.get_default(call_default_factory=True)
        secrets = default.values() if isinstance(default, dict) else [default]
        for secret in secrets:
            if hasattr(secret, "get_secret_value"):
                assert secret.get_secret_value() not in page


def test_dockerfile_runs_an_existing_module_from_copied_sources() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    (cmd,) = [line for line in lines if line.startswith("CMD ")]
    arguments = json.loads(cmd.removeprefix("CMD "))
    assert arguments[:2] == ["python", "-m"]
    assert importlib.util.find_spec(arguments[2]) is not None
    for line in lines:
        if line.startswith("COPY ") and not line.startswith("COPY --from="):
            *sources, _destination = line.split()[1:]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY of a missing path: {source}"
    for service in ("api", "worker", "activity-worker"):
        command = _compose()["services"][service]["command"]
        assert command[:2] == ["python", "-m"]
        assert importlib.util.find_spec(command[2]) is not None


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "data", ".git", ".env", ".env.*"} <= ignored


def test_alert_rules_are_complete_and_each_is_explained_in_the_runbook() -> None:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert rules
    runbook = RUNBOOK.read_text(encoding="utf-8")
    names = []
    for rule in rules:
        assert isinstance(rule["alert"], str) and rule["alert"].startswith("Secupol")
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert f"`{rule['alert']}`" in runbook, f"{rule['alert']} is not in docs/operations.md"
        names.append(rule["alert"])
    assert len(names) == len(set(names))


def test_the_api_metrics_of_the_alert_rules_exist() -> None:
    """A misspelt metric in an alert makes the alert silently never fire."""
    metrics = ApiMetrics()
    metrics.decisions.counts = DecisionCounts(overdue=0, due_30d=0)
    metrics.requests.labels("GET", "/cases", "200").inc()
    metrics.duration.labels("GET", "/cases").observe(0.1)
    metrics.server_errors.labels("GET", "/cases").inc()
    exported = {sample.name for family in metrics.registry.collect() for sample in family.samples}
    used = set(re.findall(r"\bsecupol_[a-z0-9_]+", ALERTS.read_text(encoding="utf-8")))
    used -= {EMAILS_GIVEN_UP_METRIC}  # the worker's, counted by the workflow
    assert used, "no secupol metric in the alert rules"
    assert used <= exported, f"not exported by the API: {sorted(used - exported)}"
