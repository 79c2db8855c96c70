"""Playwright helpers for the browser tests (a helper module, not collected: its name does not start with `test_`).

`browser_page(screenshot_dir)` opens Debian's chromium (`/usr/bin/chromium`; `bash .ci/install` installs it) through
the `playwright` package. Every request to a host that is not loopback is aborted and recorded, and the test fails
listing them when the block ends: a page that needs the internet is a bug. Console errors and uncaught page errors
are collected in `page.console_errors`. `shot(page, name)` saves a screenshot as a test artefact under
tests/artifacts/dashboard/ (git-ignored).
"""
import contextlib, re
from pathlib import Path
from urllib.parse import urlsplit
import pytest

CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage']
ARTIFACTS = Path(__file__).resolve().parent/'artifacts'/'dashboard'
LOOPBACK_HOSTS = {'127.0.0.1', 'localhost', '::1'}
LOCAL_SCHEMES = {'data', 'blob', 'about'}


def is_local(url: str) -> bool:
    "Whether a request to `url` stays on this machine."
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOOPBACK_HOSTS or bool(re.fullmatch(r'127(\.\d+){3}', parts.hostname or ''))


def shot(page, name: str) -> Path:
    "Save a full-page screenshot `name`.png in the page's screenshot folder; its path."
    folder = Path(page.screenshot_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder/f'{re.sub(r"[^A-Za-z0-9_.-]+", "-", name)}.png'
    page.screenshot(path=str(path), full_page=True)
    return path


@contextlib.contextmanager
def browser_page(screenshot_dir=ARTIFACTS, viewport=(1400, 1000), timeout_ms: int=30_000):
    "A chromium page that may reach loopback only; fails the test listing any other request made."
    if not CHROMIUM.exists(): pytest.skip(f'{CHROMIUM} is missing: `bash .ci/install` installs Debian chromium')
    from playwright.sync_api import sync_playwright
    blocked, errors = [], []

    def guard(route):
        if is_local(route.request.url): route.continue_()
        else: blocked.append(route.request.url); route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={'width': viewport[0], 'height': viewport[1]})
            context.set_default_timeout(timeout_ms)
            context.route('**/*', guard)
            page = context.new_page()
            page.on('console', lambda message: errors.append(message.text) if message.type == 'error' else None)
            page.on('pageerror', lambda error: errors.append(str(error)))
            page.screenshot_dir, page.blocked_requests, page.console_errors = Path(screenshot_dir), blocked, errors
            yield page
        finally:
            browser.close()
    assert not blocked, f'the page asked for {len(blocked)} non-loopback URL(s), all blocked: {blocked[:10]}'
