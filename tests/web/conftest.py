"""The pages under test are served by the same stack as ``tests/api`` (uvicorn on a loopback port,
a real worker, the session's Temporal dev server and SMTP server, a real database), and driven
by Debian's Chromium through Playwright (no browser is ever downloaded).

- ``web``: the stack, once per backend (SQLite; PostgreSQL too when it is configured);
- ``browser``: one headless Chromium for the session; each test opens its own context;
- ``check_accessibility(page)``: axe-core on the page, failing on serious or critical findings;
- ``Screens``: screenshots of the main pages under the test's output folder (never in git).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright
from temporalio.client import Client

from core.settings import Settings
from embedded.mailbox import MailServer
from tests.api.conftest import BACKENDS, ApiStack, api_stack

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("SECUPOL_SCREENSHOTS", "test-output/screenshots"))
"""Where the main pages' screenshots go (``test-output/`` is ignored by git)."""
BLOCKING_IMPACTS = {"serious", "critical"}
PHONE = {"width": 375, "height": 667}


@pytest.fixture(scope="package", params=BACKENDS)
async def web(
    request: pytest.FixtureRequest,
    workdir: Path,
    settings: Settings,
    client: Client,
    mail_server: MailServer,
) -> AsyncIterator[ApiStack]:
    backend: str = request.param
    async with api_stack(
        backend, workdir / f"web-{backend}", settings, client, mail_server
    ) as stack:
        yield stack


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


_AXE = Axe()


async def check_accessibility(page: Page) -> None:
    """Fail on any serious or critical axe-core violation of the page as it is now."""
    results = await _AXE.run(page)
    blocking = [
        violation
        for violation in results.response["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]
    assert not blocking, (
        page.url,
        [
            (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]])
            for violation in blocking
        ],
    )


class Screens:
    """Saves a full-page screenshot of each main page, numbered in the order taken."""

    def __init__(self, folder: Path, first_backend: bool = True):
        self.folder = folder
        self.first_backend = first_backend
        """Whether the test runs on the first backend (pages are checked once, not per
        database)."""
        self.count = 0

    async def take(self, page: Page, name: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count += 1
        safe = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
        path = self.folder / f"{self.count:02d}-{safe}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screens(request: pytest.FixtureRequest) -> Screens:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("web", BACKENDS[0]) if callspec else BACKENDS[0]
    return Screens(SCREENSHOTS / name, first_backend=backend == BACKENDS[0])
