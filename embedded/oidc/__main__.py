"""``python -m embedded.oidc serve``: the embedded OpenID Connect provider, in the foreground."""

from __future__ import annotations

import argparse
import os
import sys

from core.settings import Settings
from embedded.oidc import provider_command, provider_environment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m embedded.oidc",
        description="Fournisseur d'identité OpenID Connect de la pile locale (développement).",
    )
    parser.add_argument("command", choices=["serve"])
    parser.parse_args(argv)
    settings = Settings()
    environment = provider_environment(settings, redirect_uris=[settings.oidc_callback_url])
    command = provider_command()
    # Replace this process: the supervisor's signals reach Node directly.
    sys.stdout.flush()
    os.execve(command[0], command, environment)
    return 0  # pragma: no cover


if __name__ == "__main__":
    raise SystemExit(main())
