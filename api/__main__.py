"""``python -m api``: serve the API with uvicorn on ``api_host:api_port``."""

from __future__ import annotations

import logging

import uvicorn

from api.main import create_app
from core.settings import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Alembic lists its plugins at INFO on every start; its upgrade lines are what matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        server_header=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
