"""The dashboard as a user meets it (spec U10): a real `tradebot live` backend on the simulator, the real Voila app
with a preheated kernel, and Debian's chromium driven by Playwright, every non-loopback request blocked.

The journey registers and logs in, sees both tickers move and the chart grow, picks two models and starts the
strategy, sees their decisions, places a manual paper order and finds it in the trade log, halts, switches the
theme, opens the comparison tab and logs out; a screenshot of every step is kept in tests/artifacts/dashboard/.
Along the way it measures the first render after login and the tick-to-screen latency (a simulator tick to the
chart's title in the DOM), throttles wrong passwords, and finally scans the page, the logs and the files for the
password and the API token. A second test starts the dashboard with no backend (HISTORICAL, embedded bars) and
brings the backend up under it: the badge turns LIVE without a reload.
"""
import json, os, re, threading, time
import httpx, pytest
from websockets.sync.client import connect
from browser import ARTIFACTS, browser_page, shot
from livestack import Live, Sim, free_port, train_quick_runs
from tradebot.dashboard.serve import DashboardServer, kernel_env, default_notebook
from tradebot.dashboard.users import UserStore

PASSWORD = 'Correct-Horse-7-battery'
API_KEY, API_SECRET = 'TbDemoKey7Q2x9Lm4Rt8', 'tbDemoSecret-0f3c9a7e5d1b2c4a6e8f0a1b3c5d7e9f'   # typed into the Keys tab, then looked for
BADGE = "document.querySelector('.tb-badge') && document.querySelector('.tb-badge').innerText"
CHART_POINTS = "(() => { const gd = document.querySelector('.tb-chart .js-plotly-plot'); return gd && gd.data && gd.data.length ? gd.data[0].x.length : 0; })()"
TITLE_WATCH = """() => {
  window.tbTitles = [];
  const seen = () => { const t = document.querySelector('.tb-chart .gtitle'); if (t) window.tbTitles.push([Date.now(), t.textContent]); };
  new MutationObserver(seen).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
LOGIN_CHECKS_WATCH = """() => {
  window.tbLoginChecks = 0;   // how many login checks have ended: the message left 'checking…'
  const left = r => (r.oldValue || '').startsWith('checking') || [...r.removedNodes].some(n => (n.textContent || '').startsWith('checking'));
  new MutationObserver(records => { window.tbLoginChecks += records.filter(left).length; })
    .observe(document.querySelector('.tb-login-message'), {subtree: true, childList: true, characterData: true, characterDataOldValue: true});
}"""
LOGIN_CHECKED = "window.tbLoginChecks > {before} && !document.querySelector('.tb-login-message').innerText.startsWith('checking')"
TICK_TIME = re.compile(r'tick (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC')


@pytest.fixture(scope='module')
def home(tmp_path_factory):
    "A TRADEBOT_HOME with one quick run of each learning algorithm."
    return train_quick_runs(tmp_path_factory.mktemp('dashboard_home'))


class SimTicks:
    "The simulator's own BTCUSDT ticker frames, as a direct subscriber receives them: exchange ts (ms) -> wall time (ms)."
    def __init__(self, sim_port: int):
        self.url, self.arrived, self.stop, self.ready = f'ws://127.0.0.1:{sim_port}/v5/public/linear', {}, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.read, daemon=True); self.thread.start()
        assert self.ready.wait(10), 'could not subscribe to the simulator'

    def read(self):
        with connect(self.url, open_timeout=10) as ws:
            ws.send(json.dumps({'op': 'subscribe', 'args': ['tickers.BTCUSDT']})); self.ready.set()
            while not self.stop.is_set():
                try: frame = json.loads(ws.recv(timeout=1))
                except TimeoutError: continue
                if frame.get('topic') == 'tickers.BTCUSDT': self.arrived.setdefault(int(frame['ts']), time.time() * 1000)

    def close(self): self.stop.set(); self.thread.join(5)


def tick_to_screen_ms(titles, arrived) -> list:
    "Milliseconds from each tick's arrival at a direct subscriber to the first chart title showing it."
    shown = {}
    for at, text in titles:
        if (found := TICK_TIME.search(text)):
            ts = int(time.mktime(time.strptime(found.group(1)[:19], '%Y-%m-%d %H:%M:%S')) - time.timezone) * 1000 + int(found.group(1)[-3:])
            shown.setdefault(ts, at)
    return [at - arrived[ts] for ts, at in shown.items() if ts in arrived]


def cross_origin(server):
    """Scenario 36 on the Voila side: another origin gets no CORS grant and cannot open a kernel's WebSocket; a page whose
    name was rebound to 127.0.0.1 (DNS rebinding: same origin, foreign Host header) is refused."""
    evil = 'https://evil.example'
    rebound = {'Host': f"evil.example:{server.url.rsplit(':', 1)[1].strip('/')}"}
    for path in ('', 'api/kernels'): assert httpx.get(server.url + path, headers=rebound).status_code == 403, path
    for kernel_id in server.kernels():
        preflight = httpx.options(f'{server.url}api/kernels/{kernel_id}', headers={'Origin': evil, 'Access-Control-Request-Method': 'DELETE'})
        assert 'access-control-allow-origin' not in preflight.headers, preflight.headers
        with pytest.raises(Exception, match='403'):
            with connect(f"{server.url.replace('http', 'ws')}api/kernels/{kernel_id}/channels", origin=evil, open_timeout=10): pass


def place_manual_order(page, live) -> str:
    "Click Buy, or Sell when Buy places nothing (already long; a council decision running), until a paper order is placed; its id."
    for attempt in range(12):
        side, last = ('buy', 'sell')[attempt % 2], max([d['id'] for d in live.http.get('/decisions', params={'limit': 50}).json()], default=0)
        page.click(f'.tb-{side}')
        record = live.until(lambda: next((d for d in live.http.get('/decisions', params={'limit': 50}).json() if d['id'] > last and d['mode'] == 'manual'), None), 20, 'the manual decision')
        if record['intent']: return record['intent']['id']
    raise AssertionError('no manual order was placed in 12 clicks')


def stop_all(*processes):
    "Stop each process, even when stopping one of them fails; the exit codes."
    codes, error = [], None
    for process in processes:
        try: codes.append(process.stop())
        except Exception as e: error = error or e
    if error: raise error
    return codes


def dashboard_env(home, backend_url) -> dict:
    "The dashboard kernels' environment: this home, that backend, and no Yahoo Finance (nothing may leave loopback)."
    return kernel_env(backend_url, home/'data'/'live'/'api_token', {**os.environ, 'TRADEBOT_HOME': str(home), 'TRADEBOT_OFFLINE': '1'})


def login(page, user, password=PASSWORD):
    page.fill('.tb-login-user input', user); page.fill('.tb-login-pass input', password); page.click('.tb-login-button')


def text(page, selector) -> str: return page.inner_text(selector)


def test_user_journey(home):
    sim = Sim(speed=2)
    try:
        live = Live(home, '--stopped', sim_port=sim.port)               # on that simulator, whose stream the test hears too
        try: ticks = SimTicks(sim.port)
        except BaseException: live.stop(); raise
    except BaseException: sim.stop(); raise
    token, measured, pages = (home/'data'/'live'/'api_token').read_text().strip(), {}, []
    server = DashboardServer(default_notebook(), port=0, env=dashboard_env(home, live.url))
    try:
        with server, browser_page(ARTIFACTS) as page:
            started = time.monotonic(); page.goto(server.url); page.wait_for_selector('.tb-login')
            measured['login_form_s'] = time.monotonic() - started
            assert page.locator('.tb-ticker').count() == 0 and page.locator('.tb-chart').count() == 0   # nothing before the login
            shot(page, '01-login-form'); pages.append(page.content())

            page.fill('.tb-login-user input', 'alice'); page.fill('.tb-login-pass input', PASSWORD); page.click('.tb-register-button')
            page.wait_for_function("document.querySelector('.tb-login-message').innerText.includes('registered alice')")
            assert page.input_value('.tb-login-pass input') == ''                                # the form forgets the password
            shot(page, '02-registered')

            page.evaluate(TITLE_WATCH)
            started = time.monotonic(); login(page, 'alice')
            page.wait_for_selector('.tb-ticker-BTCUSDT'); page.wait_for_selector('.tb-chart .main-svg')
            page.wait_for_function(f"{CHART_POINTS} > 0")
            measured['first_render_after_login_s'] = time.monotonic() - started
            page.wait_for_function(f"{BADGE}.startsWith('LIVE')")
            before = {s: text(page, f'.tb-ticker-{s}') for s in ('BTCUSDT', 'ETHUSDT')}
            points = page.evaluate(CHART_POINTS)
            for symbol, shown in before.items():
                page.wait_for_function(f"document.querySelector('.tb-ticker-{symbol}').innerText !== {json.dumps(shown)}")
            page.wait_for_function(f"{CHART_POINTS} > {points}")                                   # the chart grows
            page.evaluate('window.tbTitles = []'); page.wait_for_timeout(10_000)                    # 10 s of ticks, no screenshot
            titles = page.evaluate('window.tbTitles')                                               # (a screenshot stalls the page)
            shot(page, '03-live-tickers-and-chart'); pages.append(page.content())
            cross_origin(server)

            runs = page.eval_on_selector('.tb-models select', 's => Array.from(s.options).map(o => o.value)')
            chosen = [r for r in runs if 'qlearning' in r or 'dqn' in r]
            assert len(chosen) == 2, runs
            page.select_option('.tb-models select', chosen); page.click('.tb-apply-models')
            page.wait_for_function("document.querySelector('.tb-council-message').innerText.startsWith('apply-models: done')")
            page.click('.tb-start')
            page.wait_for_function("document.querySelector('.tb-council-status').innerText.startsWith('running')")
            names = [r.split(' ')[0] for r in chosen]
            shot(page, '04-council-started')
            page.wait_for_function(f"(() => {{ const t = document.querySelector('.tb-decisions').innerText; return {json.dumps(names)}.every(n => t.includes(n + ':')); }})()", timeout=60_000)
            shot(page, '05-decisions')

            order = place_manual_order(page, live)
            page.wait_for_function(f"document.querySelector('.tb-council-message').innerText.includes({json.dumps(order)})")
            page.wait_for_function(f"document.querySelector('.tb-trades').innerText.includes({json.dumps(order)})", timeout=30_000)
            row = page.eval_on_selector('.tb-trades', f"t => Array.from(t.querySelectorAll('tr')).map(r => r.innerText).find(r => r.includes({json.dumps(order)}))")
            assert 'paper' in row and ('FILLED' in row or 'INTENT' in row), row                      # its exchange id and status
            shot(page, '06-manual-order-in-trade-log')

            page.click('.tb-halt')
            page.wait_for_function("document.querySelector('.tb-council-status').innerText.includes('HALTED')")
            assert live.http.get('/status').json()['strategy']['risk_state'] == 'HALTED'
            shot(page, '07-halted')

            page.click('.tb-theme button:has-text("light")')
            page.wait_for_function("document.querySelector('.tb-app').classList.contains('tb-light')")
            page.wait_for_function("getComputedStyle(document.querySelector('.tb-chart .main-svg')).backgroundColor === 'rgb(255, 255, 255)'")   # the chart too
            shot(page, '08-light-theme')

            page.click('.lm-TabBar-tab:has-text("Compare")')
            page.wait_for_selector('.tb-compare-runs select')
            compared = page.eval_on_selector('.tb-compare-runs select', 's => Array.from(s.options).map(o => o.value)')[:2]
            page.select_option('.tb-compare-runs select', compared)
            page.wait_for_function(f"(() => {{ const t = document.querySelector('.tb-compare-table').innerText; return t.includes('sharpe_ratio') && {json.dumps(compared)}.every(r => t.includes(r)); }})()")
            shot(page, '09-comparison'); pages.append(page.content())

            page.click('.lm-TabBar-tab:has-text("Keys")')
            page.fill('.tb-keys-api-key input', API_KEY); page.fill('.tb-keys-secret input', API_SECRET); page.click('.tb-keys-save')
            page.wait_for_function("document.querySelector('.tb-keys-fingerprint').innerText.includes('demo: key …')")
            assert API_KEY[-4:] in text(page, '.tb-keys-fingerprint')
            typed = page.eval_on_selector_all('input, textarea', 'fields => fields.map(f => f.value)')
            assert API_KEY not in typed and API_SECRET not in typed, 'the Keys form kept what was typed'
            shot(page, '10-keys-fingerprint-only'); pages.append(page.content() + '\n'.join(typed))

            page.click('.tb-logout')
            page.wait_for_selector('.tb-login')
            assert page.locator('.tb-ticker').count() == 0 and page.locator('.tb-chart').count() == 0
            shot(page, '11-logged-out')

            page.evaluate(LOGIN_CHECKS_WATCH)
            for attempt in range(12):                                                                 # wrong passwords until throttled
                before = page.evaluate('window.tbLoginChecks')
                login(page, 'alice', 'wrong-password-%d' % attempt)
                page.wait_for_function(LOGIN_CHECKED.format(before=before))                          # this attempt's answer, not the last one's
                if 'try again in' in (throttled := text(page, '.tb-login-message')): break
            shot(page, '12-throttled'); pages.append(page.content())
            voila_log = server.service.output()
    finally:
        ticks.close()
        code, _ = stop_all(live, sim)
    latency = sorted(tick_to_screen_ms(titles, ticks.arrived))
    measured.update(tick_to_screen_samples=len(latency), tick_to_screen_p50_ms=latency[len(latency) // 2] if latency else None,
                    tick_to_screen_p95_ms=latency[int(0.95 * (len(latency) - 1))] if latency else None)
    (ARTIFACTS/'measurements.json').write_text(json.dumps(measured | {'tick_to_screen_ms_in_order': tick_to_screen_ms(titles, ticks.arrived)}, indent=1))
    print('\ndashboard journey:', json.dumps(measured))
    assert code == 0, ''.join(live.lines[-20:])
    assert 'try again in' in throttled, throttled
    assert len(latency) >= 5, (len(titles), len(ticks.arrived))

    # secrets: the password and the API token appear nowhere a user or a log reader could see them
    users_file = (home/'data'/'users.json').read_text()
    assert PASSWORD not in users_file and re.search(r'pbkdf2_sha256\$\d{6,}\$', users_file), users_file[:200]
    logs = ''.join(live.lines) + voila_log
    for where, content in [('page', '\n'.join(pages)), ('logs', logs)]:
        for secret in (PASSWORD, token, API_KEY, API_SECRET): assert secret not in content, f'a secret reached the {where}'
    stored = (home/'data'/'live'/'keys'/'demo.json')
    assert stored.is_file() and oct(stored.stat().st_mode & 0o777) == '0o600'
    saved = json.loads(default_notebook().read_text())
    assert all(not cell.get('outputs') for cell in saved['cells']), 'the app notebook is committed with outputs'


def test_badge_historical_then_live(home):
    backend_port, sim_port = free_port(), free_port()
    UserStore(home/'data'/'users.json').add('bob', PASSWORD)
    env = dashboard_env(home, f'http://127.0.0.1:{backend_port}')
    with DashboardServer(default_notebook(), port=0, env=env) as server, browser_page(ARTIFACTS) as page:
        page.goto(server.url); page.wait_for_selector('.tb-login')
        login(page, 'bob')
        page.wait_for_function(f"{BADGE}.startsWith('HISTORICAL')", timeout=30_000)
        assert 'embedded bars' in page.inner_text('.tb-badge')
        page.wait_for_function(f"{CHART_POINTS} > 100")                                          # stored bars on the chart
        assert 'embedded bars' in page.text_content('.tb-chart .gtitle')
        shot(page, 'historical-backend-down')
        live = Live(home, '--stopped', speed=2, port=backend_port, sim_port=sim_port)           # the backend comes up ...
        try:
            page.wait_for_function(f"{BADGE}.startsWith('LIVE')", timeout=30_000)                 # ... and the page follows, no reload
            page.wait_for_function("document.querySelector('.tb-chart .gtitle').textContent.includes('· tick ')", timeout=30_000)
            shot(page, 'live-after-backend-start')
        finally:
            assert live.stop() == 0
        page.wait_for_function(f"{BADGE}.startsWith('HISTORICAL')", timeout=30_000)               # and back when it stops
        shot(page, 'historical-after-backend-stop')
