"""The embedded stack's SMTP server: every message it accepts is kept in a Maildir.

It stands in for a real mail relay on a single machine and in tests: nothing leaves the machine,
and people (or tests) read what secupol sent with ``MailStore`` or the command line::

    python -m embedded.mailbox serve        # listens on Settings().smtp_host:smtp_port
    python -m embedded.mailbox list         # index, date, recipients, subject
    python -m embedded.mailbox show 3       # headers and text body of message 3 (or "last")

Messages are stored as received, except that line endings become LF as Maildir expects; no header
is added, so the stored message is exactly what the sender produced.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import mailbox
import re
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Sequence
from email.message import EmailMessage
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.settings import Settings

log = logging.getLogger(__name__)

SERVER_HOSTNAME = "secupol-mailbox"
"""Name the server gives in its greeting (avoids a slow reverse DNS lookup of the machine)."""

_STDLIB_KEY = re.compile(r"^(\d+)\.M(\d+)P(\d+)Q(\d+)\.")
"""Shape of the keys ``mailbox.Maildir`` gives: seconds, microseconds, pid, per-process counter."""


class MailStore:
    """Read access to the Maildir the server fills.

    Each read opens the Maildir afresh, so a store in one thread sees what the server thread has
    just delivered.
    """

    def __init__(self, path: Path) -> None:
        """Open the Maildir at ``path``, creating it if missing.

        Args:
            path: Directory of the Maildir (it gets ``cur``, ``new`` and ``tmp``).
        """
        self.path = path
        # Maildir(create=True) only fills a directory it makes itself: an existing empty
        # directory (a fresh tmp_path, a mounted volume) would be left without its subfolders.
        for folder in ("tmp", "new", "cur"):
            (path / folder).mkdir(parents=True, exist_ok=True)

    def add(self, raw: bytes) -> str:
        """Store one raw message and return its Maildir key."""
        # CRLF is the wire format; Maildir files hold LF lines like any local mailbox.
        return mailbox.Maildir(self.path, create=False).add(raw.replace(b"\r\n", b"\n"))

    def messages(self) -> list[EmailMessage]:
        """Every stored message, oldest first."""
        box = mailbox.Maildir(self.path, create=False)
        keys = sorted(box.keys(), key=lambda key: _arrival_order(box, key))
        return [_parse(box.get_bytes(key)) for key in keys]

    def for_recipient(self, address: str) -> list[EmailMessage]:
        """Messages whose ``To`` header holds ``address`` (compared case-insensitively).

        Args:
            address: A bare address such as ``candidate@example.fr``.
        """
        wanted = address.strip().casefold()
        return [message for message in self.messages() if wanted in _to_addresses(message)]


class MailServer:
    """A local SMTP server (aiosmtpd, in its own thread) delivering into a ``MailStore``.

    Usable as a context manager. ``port=0`` picks a free port, read back from ``port``.
    """

    def __init__(self, store_dir: Path, host: str = "127.0.0.1", port: int = 8025) -> None:
        """Prepare the server; nothing listens before ``start``.

        Args:
            store_dir: Directory of the Maildir (created if missing).
            host: Address to listen on.
            port: Port to listen on; 0 for any free port.
        """
        self._store = MailStore(store_dir)
        self._host = host
        self._requested_port = port
        self._port = port
        self._controller: _SocketController | None = None

    @property
    def port(self) -> int:
        """The port actually listened on (the chosen one when ``port=0`` was asked)."""
        return self._port

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    @property
    def store(self) -> MailStore:
        """Where received messages are kept."""
        return self._store

    def start(self) -> None:
        """Listen and accept messages until ``stop``.

        Raises:
            RuntimeError: the server is already running.
            OSError: the address cannot be bound (for example, the port is taken).
        """
        if self._controller is not None:
            raise RuntimeError("mail server already running")
        # Binding here, then handing the socket over, makes port=0 free of any race with
        # another process grabbing the port between "find" and "bind".
        listener = socket.socket(socket.AF_INET6 if ":" in self._host else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._requested_port))
            self._port = listener.getsockname()[1]
            controller = _SocketController(_MaildirHandler(self._store), listener, self._host)
            controller.start()
        except BaseException:
            listener.close()
            raise
        self._controller = controller
        log.info(
            "mail server listening on %s:%d, storing in %s",
            self._host,
            self._port,
            self._store.path,
        )

    def stop(self) -> None:
        """Stop listening (idempotent); stored messages stay."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
            log.info("mail server on %s:%d stopped", self._host, self._port)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class _MaildirHandler:
    """aiosmtpd handler: keep the DATA of each message, log its size only (never its content)."""

    def __init__(self, store: MailStore) -> None:
        self._store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        key = self._store.add(raw)
        log.info(
            "message %s stored: %d bytes, %d recipient(s)", key, len(raw), len(envelope.rcpt_tos)
        )
        return "250 Message accepted for delivery"


class _SocketController(Controller):
    """aiosmtpd's threaded controller, serving on a socket bound beforehand."""

    def __init__(self, handler: _MaildirHandler, listener: socket.socket, host: str) -> None:
        super().__init__(
            handler,
            hostname=host,
            port=listener.getsockname()[1],
            server_hostname=SERVER_HOSTNAME,
        )
        self._listener = listener

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        # The documented extension point of aiosmtpd controllers; the stock one binds host:port
        # itself, which cannot report the port picked for port=0.
        return self.loop.create_server(self._factory_invoker, sock=self._listener)


def _parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # policy.default always builds EmailMessage
    return message


def _arrival_order(box: mailbox.Maildir, key: str) -> tuple[float, int, int, str]:
    match = _STDLIB_KEY.match(key)
    if match is not None:
        seconds, micros, _pid, counter = (int(part) for part in match.groups())
        return (seconds, micros, counter, key)
    # A file dropped in by another tool: its modification time is the best clue we have.
    return (box.get_message(key).get_date(), 0, 0, key)


def _to_addresses(message: EmailMessage) -> set[str]:
    addresses: set[str] = set()
    for header in message.get_all("To", []):
        addresses.update(address.addr_spec.casefold() for address in header.addresses)
    return addresses


# --- Command line -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``serve``, ``list``, ``show N|last``) and return the exit status.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when omitted.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    settings = Settings()
    mail_dir: Path = args.dir or settings.mail_dir
    if args.command == "serve":
        host: str = args.host or settings.smtp_host
        port: int = settings.smtp_port if args.port is None else args.port
        return _serve(mail_dir, host, port)
    if args.command == "list":
        return _list(MailStore(mail_dir))
    return _show(MailStore(mail_dir), args.which, args.save)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dir", type=Path, default=None, help="Maildir (default: Settings().mail_dir)"
    )
    parser = argparse.ArgumentParser(
        prog="python -m embedded.mailbox", description="Local SMTP server of the embedded stack."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", parents=[common], help="receive mail until SIGINT/SIGTERM")
    serve.add_argument("--host", default=None, help="default: Settings().smtp_host")
    serve.add_argument("--port", type=int, default=None, help="default: Settings().smtp_port")
    commands.add_parser("list", parents=[common], help="one line per stored message")
    show = commands.add_parser("show", parents=[common], help="print one message")
    show.add_argument("which", help="index shown by `list` (from 1), or `last`")
    show.add_argument(
        "--save", type=Path, default=None, metavar="DIR", help="write the attachments into DIR"
    )
    return parser


def _serve(mail_dir: Path, host: str, port: int) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # aiosmtpd logs each envelope, recipients included, at INFO: keep personal data out of logs.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    with MailServer(mail_dir, host=host, port=port):
        # A timed wait keeps the main thread returning to the interpreter, where signal
        # handlers run.
        while not stop.wait(0.5):
            pass
    return 0


def _list(store: MailStore) -> int:
    messages = store.messages()
    if not messages:
        sys.stdout.write(f"Aucun message dans {store.path}.\n")
        return 0
    for index, message in enumerate(messages, start=1):
        sys.stdout.write(
            f"{index:>4}  {_date(message)}  {message.get('To', '')}  {message.get('Subject', '')}\n"
        )
    return 0


def _show(store: MailStore, which: str, save_to: Path | None = None) -> int:
    messages = store.messages()
    try:
        index = len(messages) if which == "last" else int(which)
    except ValueError:
        sys.stderr.write(f"Numéro de message invalide : {which!r} (un entier ou « last »).\n")
        return 2
    if not 1 <= index <= len(messages):
        sys.stderr.write(f"Message introuvable : {which} ({len(messages)} message(s) stocké(s)).\n")
        return 1
    message = messages[index - 1]
    for name in ("Date", "From", "To", "Cc", "Reply-To", "Subject", "Message-ID"):
        for value in message.get_all(name, []):
            sys.stdout.write(f"{name}: {value}\n")
    sys.stdout.write("\n")
    body = message.get_body(preferencelist=("plain",))
    if body is None:
        sys.stdout.write("(pas de partie texte)\n")
    else:
        text = body.get_content()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    for number, part in enumerate(message.iter_attachments(), start=1):
        data = part.get_content()
        # The sender chose the name: keep only its last component before writing anything.
        name = Path(part.get_filename() or f"piece-jointe-{number}").name
        size = len(data) if isinstance(data, bytes | str) else 0
        sys.stdout.write(f"[pièce jointe {number}] {name} ({part.get_content_type()}, {size} o)")
        if save_to is not None and isinstance(data, bytes):
            save_to.mkdir(parents=True, exist_ok=True)
            (save_to / name).write_bytes(data)
            sys.stdout.write(f" -> {save_to / name}")
        sys.stdout.write("\n")
    return 0


def _date(message: EmailMessage) -> str:
    header = message.get("Date")
    moment = getattr(header, "datetime", None)
    if moment is None:
        return f"{'?':<22}"
    return f"{moment:%Y-%m-%d %H:%M:%S %z}"


if __name__ == "__main__":
    raise SystemExit(main())
