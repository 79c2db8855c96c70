"""The real Voila server of `tradebot dashboard` in a real browser: the preheated first render, and a busy kernel
ending within 30 s of its tab closing, both through Voila's tab-close shutdown and through the culler alone."""
import json, signal, subprocess, sys, time, urllib.error, urllib.request
import psutil
from pathlib import Path
import pytest
from browser import ARTIFACTS, browser_page, shot
from tradebot.dashboard.serve import DashboardServer

FIXTURE = Path(__file__).resolve().parent/'fixtures'/'busy_label.ipynb'   # a Label updated every 0.2 s by an asyncio task
LABEL = '.tb-fixture-label'
GONE_WITHIN = 30.0


def kernel_model(server, kernel_id) -> dict|None:
    "Voila's /api/kernels/ID answer, None once the kernel is gone (404)."
    try:
        with urllib.request.urlopen(f'{server.url}api/kernels/{kernel_id}', timeout=5) as answer: return json.load(answer)
    except urllib.error.HTTPError as e:
        if e.code == 404: return None
        raise


def seconds_until_gone(server, kernel_id, limit: float) -> float:
    "Poll until the kernel is gone (its API answer and its process); the seconds it took, or `limit` + 1 if it stayed."
    start = time.monotonic()
    while time.monotonic() - start <= limit:
        if kernel_model(server, kernel_id) is None and kernel_id not in server.kernels(): return time.monotonic() - start
        time.sleep(0.25)
    return limit + 1


def open_busy_page(server, page, name: str) -> tuple:
    "Load the fixture page; (its kernel id, first render seconds, kernel memory MB)."
    pooled = set(server.kernels())
    assert len(pooled) == 1, f'expected one preheated kernel, found {pooled}'
    start = time.monotonic()
    page.goto(server.url)
    page.wait_for_selector(LABEL, timeout=60_000)
    first_render = time.monotonic() - start
    before = page.inner_text(LABEL)
    page.wait_for_function(f"document.querySelector('{LABEL}').innerText !== {json.dumps(before)}", timeout=10_000)
    shot(page, name)
    kernel_id, = pooled                                                       # the page took the preheated kernel
    assert kernel_model(server, kernel_id)['connections'] >= 1
    memory = server.kernels()[kernel_id].memory_info().rss / 2**20
    return kernel_id, first_render, memory


@pytest.mark.parametrize('shutdown_request', ['accepted', 'refused'])
def test_busy_kernel_ends_after_tab_close(shutdown_request):
    "`refused`: Voila's own xsrf check answers the tab-close shutdown with 403, so only the culler ends the kernel."
    with DashboardServer(FIXTURE, port=0, tab_close_shutdown=shutdown_request == 'accepted') as server, browser_page(ARTIFACTS) as page:
        kernel_id, first_render, memory = open_busy_page(server, page, f'serve-busy-label-{shutdown_request}')
        page.close(run_before_unload=True)
        gone = seconds_until_gone(server, kernel_id, GONE_WITHIN)
        print(f'\n[{shutdown_request}] first render (preheated) {first_render:.2f} s, kernel memory {memory:.0f} MB, '
              f'kernel gone {gone:.2f} s after the tab closed')
        assert gone <= GONE_WITHIN, f'kernel {kernel_id} still running {GONE_WITHIN:g} s after its tab closed'
        assert first_render < 30
        assert not page.console_errors, page.console_errors


def test_sigterm_stops_voila_and_its_kernels():
    "`tradebot dashboard` ended by SIGTERM leaves no Voila and no kernel behind (they run in process groups of their own)."
    code = ('import sys; from tradebot.dashboard.serve import dashboard_main; '
            f'sys.exit(dashboard_main(["--notebook", {str(FIXTURE)!r}, "--port", "0"]))')
    process = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    family = []
    try:
        line = process.stdout.readline()                     # blocks until the URL line (or the process ends)
        assert line.startswith('dashboard: http://127.0.0.1:'), line + process.stdout.read()
        family = psutil.Process(process.pid).children(recursive=True)
        assert any('voila' in ' '.join(p.cmdline()) for p in family) and any('ipykernel' in ' '.join(p.cmdline()) for p in family)
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        _, alive = psutil.wait_procs(family, timeout=30)
        assert not alive, f'left running: {[p.cmdline() for p in alive]}'
    finally:                                                  # on a failure: Voila and its kernels too (own sessions)
        if process.poll() is None: process.kill()
        for child in family:
            if child.is_running(): child.kill()
