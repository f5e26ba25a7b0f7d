"""Operator corrections over HTTP (issue 11): the operator is the token's, the action is audited,
a refusal is an answer; nobody else may correct a case."""

from __future__ import annotations

from tests.api.conftest import ApiStack
from tests.api.flow import new_email, open_case


async def test_an_operator_note_and_a_refused_correction_are_audited(api: ApiStack) -> None:
    token = await api.sign_in(new_email("op"))
    case_id = (await open_case(api, token))["case_id"]
    async with api.http(api.staff["operator"]) as http:
        response = await http.post(
            f"/cases/{case_id}/operator/notes", json={"reason": "Préfecture relancée."}
        )
        assert response.status_code == 200, response.text
        assert response.json()["stage"] == "evaluation_requested"
        # A deadline without a time zone is refused by the case, with a stable code.
        response = await http.post(
            f"/cases/{case_id}/operator/deposit-deadline",
            json={"deposit_deadline": "2027-01-01T18:00:00", "reason": "Exercice."},
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_correction"
    async with api.http(token) as http:
        response = await http.post(
            f"/cases/{case_id}/operator/notes", json={"reason": "Je me note."}
        )
        assert response.status_code == 403
    async with api.http(api.staff["admin"]) as http:
        audit = (await http.get("/admin/audit", params={"case_id": case_id})).json()
    outcomes = {(row["action"], row["actor_role"], row["outcome"]) for row in audit}
    assert ("add_note", "operator", "ok") in outcomes
    assert ("correct_deposit_deadline", "operator", "invalid_correction") in outcomes
