"""``python -m api.admin``: the administration command, run on a machine that reaches the database.

It is how the first accounts exist (the admin routes need an admin token) and how a script gets
a token (an operator's, for instance): people on staff sign in through OpenID Connect
(``/auth/staff/sign-in``). Every token it mints is in the audit log as ``sign_in_admin_token``,
in the name of the account it signs in (never the token itself).

Every subcommand reads ``Settings()`` from the environment, migrates the database, does its job
and prints a short French report; a refused input exits with status 2 and its French message on
stderr, never a traceback.

Subcommands::

    create-staff --email E --name N --role {prefecture,cnccfp,admin,operator} [--departement 60 ...]
        create a staff account; prints its session token once (audited)
    new-token --email E
        a new session token for an existing staff account, for a script (the old ones keep
        working; audited)
    disable --email E
        disable an account: its sessions stop working at once
    set-prefecture --departement 60 --email E
        record the address of a département's prefecture service
    add-election --id ID --type T --label L --first-round YYYY-MM-DD [--second-round YYYY-MM-DD]
        add an election; whether it is covered follows its type alone
        (``domain.elections.is_covered``, the rule of ``POST /admin/elections`` too)
    seed-demo
        demo data for the embedded stack (an election open for deposits, the prefecture of the
        60, one account per staff role, a candidate, and for the élus' side a collectivité, its
        staff and an official); running it again issues fresh tokens
    retention list | purge [--case-id ID] [--dry-run] [--before-due] | schedule [--trigger]
        the purge of closed cases past their retention delay (``api.retention_admin``)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from api import audit
from api.retention_admin import add_retention_commands
from api.staff import STAFF_ROLES, add_election, check_email, create_staff, set_prefecture
from core.accounts import AccountRecord, Accounts
from core.codec_sessions import CodecSessions
from core.db import create_engine, elections, migrate
from core.elus import grant_collectivite, save_collectivite
from core.messages import MessageStore, MessageUnreadable
from core.settings import Environment, Settings
from domain.calendar import PARIS, deposit_deadline
from domain.contracts import Actor
from domain.elections import LABELS, ElectionType, is_covered, parse_election_type
from domain.elus import CollectiviteInfo
from domain.errors import DomainError, ErrorCode
from domain.stages import Role

EXIT_OK = 0
EXIT_REFUSED = 2
TOKEN_ACTION = "sign_in_admin_token"
"""Audit action of a token minted by this command: a sign-in no identity provider saw."""

ROLE_LABELS: dict[Role, str] = {
    Role.CANDIDATE: "candidat",
    Role.THIRD_PARTY: "tiers mandaté",
    Role.PREFECTURE: "agent de préfecture",
    Role.CNCCFP: "rapporteur de la CNCCFP",
    Role.ADMIN: "administrateur",
    Role.OPERATOR: "exploitant",
    Role.COLLECTIVITE: "agent de collectivité",
    Role.ELU: "élu",
}

DEMO_ELECTION_ID = "exercice-demo"
DEMO_ELECTION_LABEL = "Exercice (démonstration)"
DEMO_ELECTION_TYPE = ElectionType.MUNICIPALES
DEMO_DEPARTEMENT = "60"
DEMO_PREFECTURE_EMAIL = "prefecture-60@secupol.localhost"
DEMO_STAFF: tuple[tuple[str, str, Role, tuple[str, ...]], ...] = (
    ("admin@secupol.localhost", "Administrateur (démonstration)", Role.ADMIN, ()),
    ("rapporteur@secupol.localhost", "Rapporteur CNCCFP (démonstration)", Role.CNCCFP, ()),
    (
        "agent-60@secupol.localhost",
        "Agent de la préfecture de l'Oise (démonstration)",
        Role.PREFECTURE,
        (DEMO_DEPARTEMENT,),
    ),
    ("exploitation@secupol.localhost", "Exploitation (démonstration)", Role.OPERATOR, ()),
)
DEMO_CANDIDATE_EMAIL = "camille.martin@secupol.localhost"
DEMO_CANDIDATE_NAME = "Camille Martin (fictif)"
DEMO_COLLECTIVITE = CollectiviteInfo(
    collectivite_id="commune-beauvais-demo",
    name="Commune de Beauvais (démonstration)",
    departement=DEMO_DEPARTEMENT,
    email="protection-beauvais@secupol.localhost",
)
DEMO_COLLECTIVITE_STAFF_EMAIL = "agent-beauvais@secupol.localhost"
DEMO_COLLECTIVITE_STAFF_NAME = "Agent de la commune de Beauvais (démonstration)"
DEMO_OFFICIAL_EMAIL = "dominique.leroy@secupol.localhost"
DEMO_OFFICIAL_NAME = "Dominique Leroy (fictif)"

Handler = Callable[[Settings, AsyncEngine, argparse.Namespace], Awaitable[str]]


class CommandRefused(Exception):
    """A refusal of this command that is no rule of the procedure (so has no ``ErrorCode``).

    Args:
        message: French, for the person at the terminal.
    """

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# --- Subcommands --------------------------------------------------------------------------------


async def create_staff_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``create-staff``: a staff account and its first token."""
    account, token = await create_staff(
        Accounts(engine, settings),
        email=args.email,
        display_name=_text(args.name, field="name", label="Le nom", limit=200),
        role=Role(args.role),
        departements=args.departement,
    )
    await _audit_token(engine, account)
    return "\n".join(
        [
            f"Compte créé : {account.email}",
            *_account_lines(account),
            *_token_lines(settings, token),
        ]
    )


async def new_token_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``new-token``: another session token for a staff account (one lost its token)."""
    accounts = Accounts(engine, settings)
    account = await _existing_account(accounts, args.email)
    if account.role not in STAFF_ROLES:
        raise CommandRefused(
            "Ce compte n'est pas celui d'un agent : un candidat ou un tiers mandaté se connecte "
            "par un lien reçu par courriel (POST /auth/sign-in-links), pas avec un jeton remis "
            "par un administrateur."
        )
    if account.disabled:
        raise CommandRefused("Ce compte est désactivé : aucun jeton ne peut lui être remis.")
    token = await accounts.open_session(account.account_id)
    await _audit_token(engine, account)
    return "\n".join(
        [
            f"Nouveau jeton pour {account.email}",
            *_account_lines(account),
            *_token_lines(settings, token),
            "Les jetons remis auparavant restent valables jusqu'à leur expiration ; "
            "désactivez le compte (disable) si l'un d'eux a pu être dérobé.",
        ]
    )


async def disable_command(settings: Settings, engine: AsyncEngine, args: argparse.Namespace) -> str:
    """``disable``: the account can no longer act; its sessions stop at once."""
    accounts = Accounts(engine, settings)
    account = await _existing_account(accounts, args.email)
    if account.disabled:
        return f"Le compte {account.email} était déjà désactivé : rien n'a changé."
    await accounts.disable(account.account_id)
    return "\n".join(
        [
            f"Compte désactivé : {account.email}",
            *_account_lines(account),
            "Ses sessions ne sont plus acceptées.",
        ]
    )


async def codec_sessions_revoke_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``codec-sessions-revoke``: end every codec session of an account (a lost browser)."""
    account = await _existing_account(Accounts(engine, settings), args.email)
    ended = await CodecSessions(engine, settings).revoke_all(account.account_id)
    return "\n".join(
        [
            f"Sessions de décodage fermées pour {account.email} : {ended}",
            *_account_lines(account),
            "Ses jetons d'agent restent valables : désactivez le compte (disable) s'ils ont pu "
            "être dérobés.",
        ]
    )


async def messages_rekey_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``messages-rekey``: re-encrypt the case messages under the current document key."""
    try:
        result = await MessageStore(engine, settings).rekey()
    except MessageUnreadable as error:
        raise CommandRefused(
            f"Le message {error.message_id} (clé « {error.key_id} ») ne peut pas être déchiffré "
            "avec les clés configurées (SECUPOL_DOCUMENT_KEYS) : aucun message après lui n'a été "
            "rechiffré. Ajoutez la clé manquante, puis relancez la commande."
        ) from None
    return "\n".join(
        [
            f"Messages rechiffrés avec la clé « {settings.document_key_id} » : {result.rekeyed}",
            f"Messages qui l'étaient déjà : {result.current}",
        ]
    )


async def set_prefecture_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``set-prefecture``: where a département's new cases address their requests."""
    email = check_email(args.email)
    await set_prefecture(engine, args.departement, email)
    return (
        f"Préfecture du département {args.departement} : {email}\n"
        "Les dossiers de ce département lui adressent désormais leurs demandes."
    )


async def add_election_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``add-election``: an election candidates may open cases for (if covered)."""
    label = _text(args.label, field="label", label="L'intitulé", limit=200)
    election_type = parse_election_type(args.type)
    covered = await add_election(
        engine,
        election_id=args.id,
        election_type=election_type,
        label=label,
        first_round=args.first_round,
        second_round=args.second_round,
    )
    lines = _election_lines(election_type, label, args.first_round, args.second_round, covered)
    return "\n".join([f"Élection ajoutée : {args.id}", *lines])


async def seed_demo_command(
    settings: Settings, engine: AsyncEngine, args: argparse.Namespace
) -> str:
    """``seed-demo``: what the embedded stack needs to be tried by hand; idempotent."""
    if settings.environment == Environment.PRODUCTION:
        raise CommandRefused(
            "Les données de démonstration ne sont pas créées en production "
            "(SECUPOL_ENVIRONMENT=production)."
        )
    accounts = Accounts(engine, settings)
    first_round = dt.datetime.now(PARIS).date() - dt.timedelta(days=10)
    second_round = first_round + dt.timedelta(days=7)
    election_added = await _ensure_demo_election(engine, first_round, second_round)
    await set_prefecture(engine, DEMO_DEPARTEMENT, DEMO_PREFECTURE_EMAIL)

    lines = [
        "Sécu'Pol — données de démonstration (fictives)",
        "",
        f"Élection {DEMO_ELECTION_ID} ({'ajoutée' if election_added else 'mise à jour'})",
        *_election_lines(
            DEMO_ELECTION_TYPE,
            DEMO_ELECTION_LABEL,
            first_round,
            second_round,
            is_covered(DEMO_ELECTION_TYPE),
        ),
        "",
        f"Préfecture du département {DEMO_DEPARTEMENT} : {DEMO_PREFECTURE_EMAIL}",
        "",
        "Comptes d'agents. Chaque jeton n'est affiché qu'une fois ; il se joint à chaque requête "
        "dans l'en-tête « Authorization: Bearer <jeton> ».",
    ]
    for email, name, role, departements in DEMO_STAFF:
        account, token, created = await _ensure_demo_staff(
            accounts, email=email, name=name, role=role, departements=departements
        )
        await _audit_token(engine, account)
        state = "créé" if created else "existant, nouveau jeton"
        lines += ["", f"{ROLE_LABELS[role]} — {account.email} ({state})"]
        lines += _account_lines(account)
        lines.append(f"  jeton          : {token}")
    lines += ["", f"Ces jetons expirent le {_expiry(settings)}."]
    if settings.oidc_issuer:
        lines += [
            "Les agents se connectent aussi par le fournisseur d'identité (la pile lancée : "
            f"make up) : ouvrir {settings.public_url.rstrip('/')}/auth/staff/sign-in et s'y "
            "connecter avec l'adresse d'un de ces comptes.",
        ]

    candidate, created = await _ensure_demo_candidate(accounts)
    url = settings.public_url.rstrip("/")
    lines += [
        "",
        "Les pages (un navigateur suffit) :",
        f"  accueil        : {url}/",
        f"  se connecter   : {url}/connexion (un lien arrive par courriel : make mail)",
        f"  créer un compte: {url}/creer-un-compte",
        f"  mes dossiers   : {url}/dossiers",
        f"  mon compte     : {url}/compte",
        f"  agents         : {url}/agents/dossiers (préfecture, CNCCFP ; statistiques : "
        f"{url}/agents/statistiques ; jeton d'API : {url}/agents/jeton)",
        f"  administration : {url}/administration",
        f"  (un agent se connecte aux pages par {url}/auth/staff/sign-in)",
        "",
        f"Compte candidat — {candidate.email} ({'créé' if created else 'existant'})",
        f"  identifiant    : {candidate.account_id}",
        f"  nom            : {candidate.display_name}",
        "Un candidat n'a pas de jeton remis par un administrateur : il se connecte par un lien "
        "reçu par courriel. La pile lancée (make up) :",
        "  1. demander un lien :",
        f"     curl -X POST {url}/auth/sign-in-links -H 'Content-Type: application/json' "
        f'-d \'{{"email": "{candidate.email}"}}\'',
        "  2. lire le courriel et y relever le jeton du lien (…/auth/sign-in?token=…) :",
        "     make mail, puis .venv/bin/python -m embedded.mailbox show N (N : numéro du message)",
        "  3. échanger ce jeton contre un jeton de session :",
        f"     curl -X POST {url}/auth/sessions -H 'Content-Type: application/json' "
        '-d \'{"token": "<jeton du lien>"}\'',
    ]
    lines += await _seed_demo_elus(accounts, engine, url)
    lines += ["", f"Documentation de l'API : {url}/docs"]
    return "\n".join(lines)


async def _seed_demo_elus(accounts: Accounts, engine: AsyncEngine, url: str) -> list[str]:
    """The élus' side: a collectivité, its staff (with a token) and an official's account."""
    await save_collectivite(engine, DEMO_COLLECTIVITE)
    existing = await accounts.find_by_email(DEMO_COLLECTIVITE_STAFF_EMAIL)
    if existing is None:
        staff = await accounts.create(
            email=DEMO_COLLECTIVITE_STAFF_EMAIL,
            display_name=DEMO_COLLECTIVITE_STAFF_NAME,
            role=Role.COLLECTIVITE,
        )
    elif existing.role != Role.COLLECTIVITE or existing.disabled:
        raise CommandRefused(_not_reusable(DEMO_COLLECTIVITE_STAFF_EMAIL))
    else:
        staff = existing
    await grant_collectivite(engine, staff.account_id, DEMO_COLLECTIVITE.collectivite_id)
    token = await accounts.open_session(staff.account_id)
    await _audit_token(engine, staff)
    official = await accounts.find_by_email(DEMO_OFFICIAL_EMAIL)
    official_created = official is None
    if official is None:
        official = await accounts.create(
            email=DEMO_OFFICIAL_EMAIL, display_name=DEMO_OFFICIAL_NAME, role=Role.ELU
        )
    elif official.role != Role.ELU or official.disabled:
        raise CommandRefused(_not_reusable(DEMO_OFFICIAL_EMAIL))
    collectivite = DEMO_COLLECTIVITE
    return [
        "",
        "Côté élus (protection fonctionnelle, bouton d'appel, protection de l'État d'un candidat)",
        f"Collectivité {collectivite.collectivite_id} — {collectivite.name}, département "
        f"{collectivite.departement}, {collectivite.email}",
        "",
        f"{ROLE_LABELS[Role.COLLECTIVITE]} — {staff.email} "
        f"({'existant, nouveau jeton' if existing is not None else 'créé'})",
        *_account_lines(staff),
        f"  collectivité   : {collectivite.collectivite_id}",
        f"  jeton          : {token}",
        "L'agent se connecte aux pages par le fournisseur d'identité, comme les agents de "
        f"l'État ({url}/auth/staff/sign-in) ; le jeton sert à l'API (en-tête "
        "« Authorization: Bearer <jeton> »).",
        "",
        f"Compte élu — {official.email} ({'créé' if official_created else 'existant'})",
        f"  identifiant    : {official.account_id}",
        f"  nom            : {official.display_name}",
        "Un élu se connecte, comme un candidat, par un lien reçu par courriel "
        f"({url}/connexion, puis make mail).",
        "",
        "Les pages des élus :",
        f"  espace élus    : {url}/espace-elus (l'élu et l'agent de la collectivité y déposent "
        "une demande de protection ; l'agent de préfecture y attribue un bouton d'appel ; le "
        "candidat y demande la protection de l'État)",
        f"  une procédure  : {url}/espace-elus/<identifiant> (protection-…, bouton-…, "
        "protection-candidat-…)",
        f"  API            : {url}/elus/procedures, {url}/elus/protections, "
        f"{url}/elus/alert-buttons, {url}/elus/state-protections",
    ]


# --- Helpers ------------------------------------------------------------------------------------


async def _audit_token(engine: AsyncEngine, account: AccountRecord) -> None:
    """One audit row per token minted, in the name of the account it signs in."""
    actor = Actor(role=account.role, id=account.account_id, departements=account.departements)
    await audit.record(engine, actor, TOKEN_ACTION, audit.OK)


async def _ensure_demo_election(
    engine: AsyncEngine, first_round: dt.date, second_round: dt.date
) -> bool:
    """Add the demo election, or move its dates to now; whether it was added."""
    try:
        await add_election(
            engine,
            election_id=DEMO_ELECTION_ID,
            election_type=DEMO_ELECTION_TYPE,
            label=DEMO_ELECTION_LABEL,
            first_round=first_round,
            second_round=second_round,
        )
        return True
    except DomainError as error:
        if error.code != ErrorCode.ELECTION_EXISTS:
            raise
    # Seeded weeks ago, its deposit deadline may have passed: the demo must stay open for new
    # cases. Cases already opened keep the dates they were opened with.
    async with engine.begin() as connection:
        await connection.execute(
            update(elections)
            .where(elections.c.election_id == DEMO_ELECTION_ID)
            .values(
                election_type=DEMO_ELECTION_TYPE.value,
                label=DEMO_ELECTION_LABEL,
                first_round=first_round,
                second_round=second_round,
                covered=is_covered(DEMO_ELECTION_TYPE),
            )
        )
    return False


async def _ensure_demo_staff(
    accounts: Accounts, *, email: str, name: str, role: Role, departements: Sequence[str]
) -> tuple[AccountRecord, str, bool]:
    """The demo staff account (created if missing) with a fresh token; whether it was created."""
    existing = await accounts.find_by_email(email)
    if existing is None:
        account, token = await create_staff(
            accounts, email=email, display_name=name, role=role, departements=departements
        )
        return account, token, True
    if existing.role != role or existing.departements != sorted(departements) or existing.disabled:
        raise CommandRefused(_not_reusable(email))
    return existing, await accounts.open_session(existing.account_id), False


async def _ensure_demo_candidate(accounts: Accounts) -> tuple[AccountRecord, bool]:
    existing = await accounts.find_by_email(DEMO_CANDIDATE_EMAIL)
    if existing is None:
        account = await accounts.create(
            email=DEMO_CANDIDATE_EMAIL, display_name=DEMO_CANDIDATE_NAME, role=Role.CANDIDATE
        )
        # Made by the operator for a fictitious person: it may open a case at once.
        await accounts.confirm(account.account_id)
        return account, True
    if existing.role != Role.CANDIDATE or existing.disabled:
        raise CommandRefused(_not_reusable(DEMO_CANDIDATE_EMAIL))
    if not (existing.confirmed and existing.name_confirmed):
        await accounts.confirm(existing.account_id)
    return existing, False


def _not_reusable(email: str) -> str:
    return (
        f"Le compte {email} existe déjà, mais avec un autre rôle ou d'autres départements, ou "
        "il est désactivé : la démonstration ne le réutilise pas."
    )


async def _existing_account(accounts: Accounts, email: str) -> AccountRecord:
    account = await accounts.find_by_email(check_email(email))
    if account is None:
        raise DomainError(ErrorCode.ACCOUNT_NOT_FOUND, field="email")
    return account


def _text(value: str, *, field: str, label: str, limit: int) -> str:
    """A required free text, stripped, within the column's length."""
    text = value.strip()
    if not text:
        raise DomainError(ErrorCode.EMPTY_FIELD, field=field, message=f"{label} est obligatoire.")
    if len(text) > limit:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            field=field,
            message=f"{label} dépasse {limit} caractères.",
        )
    return text


def _account_lines(account: AccountRecord) -> list[str]:
    return [
        f"  identifiant    : {account.account_id}",
        f"  nom            : {account.display_name}",
        f"  rôle           : {account.role.value} ({ROLE_LABELS.get(account.role, '?')})",
        f"  départements   : {', '.join(account.departements) or '—'}",
    ]


def _token_lines(settings: Settings, token: str) -> list[str]:
    return [
        f"  jeton          : {token}",
        f"  expire le      : {_expiry(settings)}",
        "Ce jeton n'est affiché qu'une fois : transmettez-le à son titulaire par un canal sûr. "
        "Il se joint à chaque requête dans l'en-tête « Authorization: Bearer <jeton> ».",
    ]


def _expiry(settings: Settings) -> str:
    days = settings.staff_token_ttl_days
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).astimezone(PARIS)
    return f"{at:%d/%m/%Y à %H:%M} (heure de Paris), dans {days} jours"


def _election_lines(
    election_type: ElectionType,
    label: str,
    first_round: dt.date,
    second_round: dt.date | None,
    covered: bool,
) -> list[str]:
    deadline = deposit_deadline(first_round)
    return [
        f"  intitulé       : {label}",
        f"  type           : {election_type.value} ({LABELS[election_type]})",
        f"  premier tour   : {first_round:%d/%m/%Y}",
        f"  second tour    : {'—' if second_round is None else f'{second_round:%d/%m/%Y}'}",
        f"  dispositif     : {'applicable' if covered else 'non applicable'}",
        f"  dépôt jusqu'au : {deadline:%d/%m/%Y à %H h %M} (heure de Paris)",
    ]


# --- Command line -------------------------------------------------------------------------------


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date invalide : {value!r} (format attendu AAAA-MM-JJ)"
        ) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.admin",
        description="Administration de Sécu'Pol : comptes d'agents, préfectures, élections.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")

    staff = commands.add_parser("create-staff", help="créer un compte d'agent et son jeton")
    staff.add_argument("--email", required=True)
    staff.add_argument("--name", required=True, help="nom affiché")
    staff.add_argument(
        "--role",
        required=True,
        choices=sorted(role.value for role in STAFF_ROLES),
    )
    staff.add_argument(
        "--departement",
        action="append",
        default=[],
        metavar="NUMERO",
        help="département servi (agents de préfecture ; répétable)",
    )
    staff.set_defaults(handler=create_staff_command)

    token = commands.add_parser("new-token", help="nouveau jeton pour un compte d'agent")
    token.add_argument("--email", required=True)
    token.set_defaults(handler=new_token_command)

    disable = commands.add_parser("disable", help="désactiver un compte")
    disable.add_argument("--email", required=True)
    disable.set_defaults(handler=disable_command)

    codec = commands.add_parser(
        "codec-sessions-revoke", help="fermer les sessions de décodage d'un compte"
    )
    codec.add_argument("--email", required=True)
    codec.set_defaults(handler=codec_sessions_revoke_command)

    rekey = commands.add_parser(
        "messages-rekey", help="rechiffrer les messages avec la clé de documents courante"
    )
    rekey.set_defaults(handler=messages_rekey_command)

    prefecture = commands.add_parser("set-prefecture", help="adresse du service d'une préfecture")
    prefecture.add_argument("--departement", required=True, metavar="NUMERO")
    prefecture.add_argument("--email", required=True)
    prefecture.set_defaults(handler=set_prefecture_command)

    election = commands.add_parser(
        "add-election",
        help="ajouter une élection",
        description="Ajoute une élection. Le dispositif s'applique ou non selon le seul type "
        "d'élection, par la même règle que la route POST /admin/elections : oui pour "
        f"{', '.join(kind.value for kind in ElectionType if is_covered(kind))} ; "
        "non pour les autres types. Aucune option ne permet de le décider autrement.",
    )
    election.add_argument("--id", required=True, help="minuscules, chiffres et tirets")
    election.add_argument(
        "--type",
        required=True,
        metavar="TYPE",
        help=f"type d'élection : {', '.join(kind.value for kind in ElectionType)}",
    )
    election.add_argument("--label", required=True, help="intitulé")
    election.add_argument("--first-round", required=True, type=_date, metavar="AAAA-MM-JJ")
    election.add_argument("--second-round", type=_date, default=None, metavar="AAAA-MM-JJ")
    election.set_defaults(handler=add_election_command)

    demo = commands.add_parser("seed-demo", help="données de démonstration (pile locale)")
    demo.set_defaults(handler=seed_demo_command)
    add_retention_commands(commands)
    return parser


CLI_ACTOR = Actor(role=Role.ADMIN, id="admin-cli")
"""Who the audit log says acted: the command, run by whoever reaches the database."""


async def run(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return the exit status (argparse exits itself on bad usage).

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when omitted.
    """
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    settings = Settings()
    engine = create_engine(settings)
    action = f"cli_{args.command.replace('-', '_')}"
    try:
        await migrate(engine, settings=settings)
        try:
            report = await handler(settings, engine, args)
        except DomainError as error:
            await audit.record(engine, CLI_ACTOR, action, error.code.value)
            sys.stderr.write(f"Refusé : {error.message} [{error.code}]\n")
            return EXIT_REFUSED
        except CommandRefused as error:
            await audit.record(engine, CLI_ACTOR, action, ErrorCode.INVALID_INPUT.value)
            sys.stderr.write(f"Refusé : {error.message}\n")
            return EXIT_REFUSED
        # Like the admin routes, every command is in the audit log (never its tokens).
        await audit.record(engine, CLI_ACTOR, action, audit.OK)
    finally:
        await engine.dispose()
    sys.stdout.write(report + "\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m api.admin``."""
    return asyncio.run(run(argv))


if __name__ == "__main__":
    raise SystemExit(main())
