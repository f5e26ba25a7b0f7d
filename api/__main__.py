"""``python -m api``: serve the API with uvicorn on ``api_host:api_port``."""

from __future__ import annotations

import uvicorn

from api.main import create_app
from core.logs import configure_logging
from core.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings, "api")
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        # No header is trusted by uvicorn: the API reads X-Forwarded-For itself, from trusted
        # proxies only (api.ratelimit).
        proxy_headers=False,
        server_header=False,
        # uvicorn's own logging config would keep its lines out of the JSON formatter.
        log_config=None,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
