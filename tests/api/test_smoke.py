from __future__ import annotations

from tests.api.conftest import ApiStack
from tests.api.flow import new_email, open_case


async def test_a_candidate_signs_in_and_opens_a_case(api: ApiStack) -> None:
    token = await api.sign_in(new_email())
    case = await open_case(api, token)
    assert case["stage"] == "evaluation_requested"
    async with api.http(token) as http:
        response = await http.get(f"/cases/{case['case_id']}")
        assert response.status_code == 200
        assert response.json()["available_actions"][0]["action"] == "mandate_third_party"
