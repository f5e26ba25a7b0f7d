"""The case page's other forms over plain HTTP (no JavaScript, as a browser without it posts
them): a line corrected then removed, a message, a third party designated who then sees the
case in "Mes dossiers", observations answered, the case withdrawn."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from tests.api.conftest import ApiStack
from tests.api.flow import (
    act,
    declared_on,
    expense_line,
    new_email,
    open_case,
    open_space,
    record_evaluation,
    upload,
)
from tests.helpers import assert_eventually
from tests.web.pages import csrf_of, sign_in_pages
from tests.web.staff import page_client
from tests.web.steps import EDIT_FORM, line_fields, pdf_uploads, send_corrected_line


async def post(
    http: httpx.AsyncClient,
    path: str,
    form: str,
    data: dict[str, str],
    upload: dict[str, tuple[str, bytes, str]] | None = None,
) -> httpx.Response:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    answer = await http.post(
        f"{path}/{form}", data={**data, "csrf_token": csrf_of(page.text)}, files=upload
    )
    return answer


async def test_the_other_forms_of_the_case_page(web: ApiStack) -> None:
    async with web.http() as http:
        await sign_in_pages(web, http, new_email(), "Camille Martin")
        page = await http.get("/dossiers/nouveau")
        form = {
            "csrf_token": csrf_of(page.text),
            "election_id": web.election_id,
            "departement": "60",
            "declared_on": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
        }
        # A date in the future is refused next to its field; the two files stay stored.
        refused = await http.post(
            "/dossiers/nouveau",
            data=form,
            files=pdf_uploads(complaint_report="plainte.pdf", candidacy_proof="declaration.pdf"),
        )
        assert refused.status_code == 422
        assert 'id="champ-declared_on-erreur"' in refused.text
        assert "Déjà joint : plainte.pdf" in refused.text
        kept = dict(
            re.findall(
                r'name="((?:complaint_report|candidacy_proof)_\w+)" value="([^"]*)"', refused.text
            )
        )
        assert set(kept) == {
            "complaint_report_ref",
            "complaint_report_name",
            "candidacy_proof_ref",
            "candidacy_proof_name",
        }
        opened = await http.post(
            "/dossiers/nouveau",
            data={**form, **kept, "declared_on": declared_on(web).isoformat()},
        )
        assert opened.status_code == 303, opened.text
        path = opened.headers["location"].split("?")[0]
        case_id = path.rsplit("/", 1)[1]
        await record_evaluation(web, case_id)
        assert (await post(http, path, "demander-espace", {})).status_code == 303
        async with web.http(web.staff["cnccfp"]) as cnccfp:
            await act(cnccfp, "POST", f"/cases/{case_id}/space")

        # An amount that is not one is refused next to its field.
        refused = await post(
            http,
            path,
            "ajouter-ligne",
            line_fields(web, "huit cents"),
            pdf_uploads(invoice="F-001.pdf"),
        )
        assert refused.status_code == 422
        assert 'id="ajouter-ligne-montant-erreur"' in refused.text
        added = await post(
            http, path, "ajouter-ligne", line_fields(web, "800"), pdf_uploads(invoice="F-001.pdf")
        )
        assert added.status_code == 303, added.text
        case = (await http.get(path)).text
        line_id = re.search(r'name="line_id" value="([^"]+)"', case)
        assert line_id is not None and "800,00" in case
        editing = await http.get(path, params={"modifier": line_id.group(1)})
        assert "Enregistrer la ligne corrigée" in editing.text
        refs = re.search(r'name="document_refs" value="([^"]*)"', editing.text)
        assert refs is not None and refs.group(1)
        corrected = await send_corrected_line(
            http, path, editing.text, line_fields(web, "1 250,50")
        )
        assert corrected.status_code == 303, corrected.text
        case = (await http.get(path)).text
        assert "1\u202f250,50" in case and case.count('class="fr-card fr-mb-3w ligne-depense"') == 1
        new_id = re.search(r'name="line_id" value="([^"]+)"', case)
        assert new_id is not None
        removed = await post(http, path, "retirer-ligne", {"line_id": new_id.group(1)})
        assert removed.status_code == 303
        assert "ligne-depense" not in (await http.get(path)).text

        # A message; an empty one is refused next to its field.
        assert (await post(http, path, "message", {"message": " "})).status_code == 422
        sent = await post(http, path, "message", {"message": "Bonjour, une question."})
        assert sent.status_code == 303
        assert "Bonjour, une question." in (await http.get(path)).text

        # A third party, designated with their mandate, sees the case in "Mes dossiers".
        third = new_email("tiers")
        designated = await post(
            http,
            path,
            "tiers",
            {"name": "Dominique Petit", "email": third},
            pdf_uploads(mandate="mandat.pdf"),
        )
        assert designated.status_code == 303, designated.text
        async with web.http() as party:
            before = len(web.mail.store.for_recipient(third))
            asked = await party.get("/connexion")
            await party.post("/connexion", data={"email": third, "csrf_token": csrf_of(asked.text)})
            token = await web.link_token(third, before)
            landing = await party.get("/auth/sign-in", params={"token": token})
            await party.post(
                "/connexion/lien", data={"token": token, "csrf_token": csrf_of(landing.text)}
            )
            mine = await party.get("/dossiers")
            assert mine.status_code == 200 and f'href="{path}"' in mine.text
            assert (await party.get(path)).status_code == 200

        # Deposit, observations answered, then withdrawal.
        added = await post(
            http, path, "ajouter-ligne", line_fields(web, "900"), pdf_uploads(invoice="F-2.pdf")
        )
        assert added.status_code == 303
        # A company the CNAPS registry does not know: the page says what to do.
        unknown = {
            **line_fields(web, "100", "F-3"),
            "cnaps_authorisation": "AUT-060-2124-07-01-00000000001",
        }
        added = await post(http, path, "ajouter-ligne", unknown, pdf_uploads(invoice="F-3.pdf"))
        assert added.status_code == 303

        async def told() -> None:
            page = (await http.get(path)).text
            assert "inconnue du registre" in page and "À vérifier de votre côté" in page

        await assert_eventually(told)
        assert (await post(http, path, "deposer", {})).status_code == 422
        assert (await post(http, path, "deposer", {"rounds_attended": "1"})).status_code == 303
        async with web.http(web.staff["cnccfp"]) as cnccfp:
            await act(
                cnccfp,
                "POST",
                f"/cases/{case_id}/observations",
                {"observations": "Précisez la facture."},
            )
        case = (await http.get(path)).text
        assert "Précisez la facture." in case and "Réponse aux observations attendue" in case
        answered = await post(http, path, "repondre", {"answer": "Voici les précisions."})
        assert answered.status_code == 303
        not_confirmed = await post(http, path, "retirer-dossier", {})
        assert not_confirmed.status_code == 422
        assert 'id="champ-confirm-erreur"' in not_confirmed.text
        withdrawn = await post(http, path, "retirer-dossier", {"confirm": "oui"})
        assert withdrawn.status_code == 303
        assert "Dossier retiré" in (await http.get(path)).text


async def test_a_corrected_line_that_is_refused_puts_the_former_one_back(web: ApiStack) -> None:
    token = await web.sign_in(new_email("correction"))
    case_id = (await open_case(web, token))["case_id"]
    await record_evaluation(web, case_id)
    await open_space(web, token, case_id)
    async with web.http(token) as http:
        for invoice, amount in (("F-1", 100_000), ("F-2", 200_000)):
            document = await upload(http, case_id, filename=f"{invoice}.pdf")
            await act(
                http,
                "POST",
                f"/cases/{case_id}/expense-lines",
                expense_line(web, document, invoice, amount),
            )
    before = (await web.cases.state(case_id)).expense_lines
    former = before[1]
    path = f"/dossiers/{case_id}"
    async with page_client(web, token) as candidate:
        editing = await candidate.get(path, params={"modifier": former.line_id})
        refs = re.search(r'name="document_refs" value="([^"]*)"', editing.text)
        assert refs is not None and refs.group(1) == " ".join(former.document_refs)
        # The corrected line takes the invoice of the other line: the case refuses it after
        # the former line was removed, which is then put back as it was.
        refused = await send_corrected_line(
            candidate, path, editing.text, line_fields(web, "2 500,00", invoice="F-1")
        )
        assert refused.status_code in (409, 422), refused.text
        assert 'id="modifier-ligne-facture-erreur"' in refused.text
        lines = (await web.cases.state(case_id)).expense_lines
        kept = ("invoice_reference", "amount_cents", "document_refs", "siren", "certification")
        assert [line.model_dump(include=set(kept)) for line in lines] == [
            line.model_dump(include=set(kept)) for line in before
        ]
        # The form shown again edits the line put back: corrected, it is accepted.
        edited = EDIT_FORM.search(refused.text)
        assert edited is not None and edited.group(1) == lines[1].line_id
        corrected = await send_corrected_line(
            candidate, path, refused.text, line_fields(web, "2 500,00", invoice="F-3")
        )
        assert corrected.status_code == 303, corrected.text
    lines = (await web.cases.state(case_id)).expense_lines
    assert [(line.invoice_reference, line.amount_cents) for line in lines] == [
        ("F-1", 100_000),
        ("F-3", 250_000),
    ]
