"""Personal data never reaches a log, at any level (issue 12): an API flow and the worker run at
``SECUPOL_LOG_LEVEL=DEBUG`` with the production logging set-up, and no address, name, message
body or file name shows in what it writes."""

from __future__ import annotations

import logging
import uuid

import pytest

from domain.documents import DocumentKind
from tests.api.conftest import ApiStack
from tests.api.flow import account_id, act, case_id_of, evaluation_proofs, record_evaluation, upload
from tests.helpers import assert_eventually
from tests.logcapture import production_logs


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_personal_data_in_the_logs_at_debug(api: ApiStack, log_format: str) -> None:
    tag = uuid.uuid4().hex[:10]
    email = f"hortense.{tag}@example.test"
    name = f"Hortense Zéphyrin {tag}"
    third_email = f"tiers.{tag}@example.test"
    third_name = f"Dominique Tiers {tag}"
    body = f"Message confidentiel {tag}"
    secrets = [email, f"hortense.{tag}", name, third_email, third_name, body, f"plainte-{tag}"]

    with production_logs("DEBUG", log_format) as logs:
        assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
        token = await api.sign_in(email, name=name)
        async with api.http(token) as http:
            case_id = case_id_of(api, await account_id(http))
            proofs = await evaluation_proofs(http, case_id)
            await upload(http, case_id, DocumentKind.OTHER, f"plainte-{tag}.pdf")
            await act(
                http,
                "POST",
                "/cases",
                {
                    "election_id": api.election_id,
                    "departement": "60",
                    "candidacy_declared_on": (api.first_round.replace(day=1)).isoformat(),
                    **proofs,
                },
                expected=201,
            )
            mandate = await upload(http, case_id, DocumentKind.MANDATE, f"plainte-{tag}-m.pdf")
            await act(
                http,
                "POST",
                f"/cases/{case_id}/third-party",
                {"email": third_email, "name": third_name, "mandate_document": mandate},
            )
            await act(http, "POST", f"/cases/{case_id}/messages", {"body": body}, expected=201)
        await record_evaluation(api, case_id)

        async def emails_sent() -> None:
            # The worker's email activities ran (the evaluation's email reached the candidate).
            subjects = [str(m["Subject"]) for m in api.mail.store.for_recipient(email)]
            assert any("valuation" in subject for subject in subjects), subjects
            assert api.mail.store.for_recipient(third_email)

        await assert_eventually(emails_sent)
    written = logs.getvalue()
    assert written, "nothing was logged"
    leaked = [secret for secret in secrets if secret.lower() in written.lower()]
    assert leaked == [], [line for line in written.splitlines() if tag in line][:5]
