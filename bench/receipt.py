"""Benchmark: what the deposit receipt's PDF costs the worker's interpreter.

The receipt is drawn inside the ``seal_dossier`` activity, on the worker's event loop, once per
deposit: during the deadline rush its CPU time is taken from every other case the worker runs
(``bench/RESULTS.md``, "Where the worker's interpreter lock goes"). This bench renders the
receipt of a dossier of ``--documents`` documents (long file names and labels that wrap among
them), ``--rounds`` rounds of ``--renders`` renders, in this process, and prints the median and
the best round's milliseconds per receipt, whether reportlab's C accelerator (``rl_accel``) is
loaded, and the receipt's size. The last line is a JSON object.

    python -m bench.receipt --documents 6
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.util
import json
import statistics
import time

from activities.documents.receipt import render_receipt
from domain.contracts import SealDossierInput, SealedDocument
from domain.documents import DocumentKind

KINDS = [
    DocumentKind.EXPENSE_STATEMENT,
    DocumentKind.INVOICE,
    DocumentKind.PAYMENT_PROOF,
    DocumentKind.CNAPS_AUTHORISATION,
    DocumentKind.CANDIDACY_PROOF,
    DocumentKind.EVALUATION_DECISION,
]


def dossier(documents: int) -> tuple[SealDossierInput, list[SealedDocument]]:
    """A dossier as a candidate deposits it: a statement, invoices, proofs, some long names."""
    sealed = [
        SealedDocument(
            document_id=f"doc-{n}",
            kind=KINDS[n % len(KINDS)].value,
            filename=(
                f"Facture {n} - Société de sécurité privée du 12 mars 2026.pdf"
                if n % 2
                else f"releve_bancaire_compte_campagne_{n}.pdf"
            ),
            sha256=hashlib.sha256(str(n).encode()).hexdigest(),
            size=187_000 + 1_234_567 * n,
        )
        for n in range(documents)
    ]
    seal = SealDossierInput(
        case_id="case-municipales-2026-c0a1b2c3d4e",
        election_label="Élections municipales des 15 et 22 mars 2026",
        candidate_name="Camille Martin",
        departement="60",
        submitted_at=dt.datetime(2026, 5, 22, 15, 59, 30, tzinfo=dt.UTC),
        document_ids=[d.document_id for d in sealed],
        expense_lines=[],
        claimed_cents=840_000,
    )
    return seal, sealed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    seal, sealed = dossier(args.documents)
    manifest = hashlib.sha256(b"manifest").hexdigest()
    pdf = render_receipt(seal, sealed, manifest)  # warm: fonts and styles load once
    rounds: list[float] = []
    for _ in range(args.rounds):
        start = time.process_time()
        for _ in range(args.renders):
            render_receipt(seal, sealed, manifest)
        rounds.append((time.process_time() - start) / args.renders * 1000)
    figures = {
        "documents": args.documents,
        "renders": args.rounds * args.renders,
        "receipt_cpu_ms_median": round(statistics.median(rounds), 2),
        "receipt_cpu_ms_best": round(min(rounds), 2),
        "rl_accel": importlib.util.find_spec("_rl_accel") is not None,
        "receipt_bytes": len(pdf),
    }
    print(
        f"{args.documents} documents: {figures['receipt_cpu_ms_median']} ms of CPU per receipt "
        f"(median of {args.rounds} rounds, best {figures['receipt_cpu_ms_best']} ms), "
        f"rl_accel {'loaded' if figures['rl_accel'] else 'absent'}, {len(pdf)} bytes"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
