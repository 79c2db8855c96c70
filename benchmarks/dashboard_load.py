"""Dashboard load and latency: N concurrent Voila sessions against a live backend, in a real browser (issue 14, 3 + 4).

    python benchmarks/dashboard_load.py [--sessions 10] [--minutes 5] [--baseline-minutes M] [--warmup-seconds 30]
                                        [--idle-seconds 60] [--speed 4] [--ticks-per-bar 5] [--home DIR] [--autogroup-nice N] [--browser-cpus C] [--browsers-idle]

Everything runs on 127.0.0.1, through the real pieces: `tradebot sim --port Q --speed S --ticks-per-bar T` (the exchange,
its own process: S bars per second of T ticks each; by default 4 bars of 5 ticks, so 20 ticks a second per symbol as
at speed 1 with the simulator's 20 ticks per bar, and four decisions a second), `tradebot live --exchange sim --sim-port Q` (the backend; it decides
at each bar close, the council of the newest quick runs), `DashboardServer` (Voila serving nbs/app/dashboard.ipynb,
preheated, pool of 1, Voila and its kernels at process nice +10) and Debian's chromium driven by Playwright (one
browser, one context per session, every non-loopback request aborted and counted).

The browsers stand in for the users, whose browsers would run on their own machines, so they are put behind the
backend: chromium runs in a session of its own (so in a scheduler autogroup of its own, kernel.sched_autogroup_enabled
= 1 on this box) and sets its processes' nice itself, so `nice` has no effect on it; the script writes the nice into
/proc/PID/autogroup of its processes instead. Session 1 (the one measured) has a browser of its own at autogroup nice
5; sessions 2..N share a second one at nice 19, so that their rendering (9 plotly charts redrawn 4 times a second,
more than the 2 cores can give) only takes CPU nobody else wants, while their kernels and websockets load the server
in full. With autogroups, a process's nice only orders it within its own session. As shipped, Voila
(start_new_session) and each kernel (jupyter_client starts each in a new session) lead their sessions and put their
own autogroup at nice 10 (`tradebot.dashboard.app.background_priority`), and the backend, started here in a session
of its own, asks for -20 (`tradebot live --cpu-nice`, granted to root / CAP_SYS_NICE) and, once up, for real-time
scheduling (SCHED_RR 1, on a leash) and the real-time I/O class (`tradebot live --realtime`). `--autogroup-nice N` writes
N into Voila's and every kernel's autogroup instead, to measure other values; by default they are left as shipped.

The runs are quick runs trained into a temp TRADEBOT_HOME unless `--home` names one with runs; N users are added to
its data/users.json for the run and removed at the end.

Phases:
1. **backend alone**, after `--warmup-seconds` of decisions and the first order left out (the first after start are
   slower: first calls, the switch to real-time scheduling, the first journal write), for `--baseline-minutes` (by
   default as long as `--minutes`, so that both p99 are taken over as many decisions: over 300, one a second, the p99
   lies between the 3rd and 4th slowest, over 1,200 at the default 4 a second between the 12th and 13th): the `latency_ms` of every decision whose id falls in the window (the runner's own decide start ->
   record time, read from GET /decisions), and the backend's RSS, CPU and disk writes.
2. **1 session** (`--idle-seconds`): Voila starts, one page logs in; its first render is timed from the click on
   Log in until `.tb-chart .main-svg` and a price in `.tb-ticker-BTCUSDT .tb-last` are visible. A MutationObserver on
   the chart notes (Date.now(), title text) at each change of the title (`BTCUSDT 10541.75 · tick 2019-08-14
   15:18:00.000 UTC`); this process holds its own WebSocket to the simulator's public stream (tickers.BTCUSDT) and
   notes time.time() when each frame's exchange `ts` first arrives. Tick-to-screen = DOM time - arrival time of the
   frame with the title's ts (same wall clock; it includes the chart's deliberate 0.25 s redraw coalescing).
3. **N sessions**: the other N-1 pages open one by one, each on a preheated kernel (the script waits for Voila to
   have rendered its refilled pool kernel before opening the next one); then `--minutes` with all N open: decisions,
   tick-to-screen in session 1, and every 5 s the RSS and CPU share of the backend, Voila, its kernels and the browser.
4. **tab close**: every page is closed with `run_before_unload=True`; each session kernel (the pooled kernel each
   page took) is polled (Voila's /api/kernels/ID and the process) until gone; the fresh pool kernel does not count.

Beside the p99 change the script prints its 95 % bootstrap interval (both windows resampled): how far two p99 of this
many decisions move by chance alone. Targets: decision p99 with N sessions at most +10 % over the backend alone;
every session kernel gone <= 30 s after its tab closed; backend and Voila memory bounded (max of the second half of
the loaded window <= 1.05 x max of the first half); tick-to-screen p95 <= 1 s; first render after login <= 3 s on a
preheated kernel.
Every wait is bounded; the backend, Voila and the browser are stopped when the script ends.
"""
from __future__ import annotations
import argparse, contextlib, datetime as dt, json, os, re, statistics, subprocess, sys, tempfile, threading, time
import urllib.error, urllib.request
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))   # livestack: the `tradebot live` process of the integration tests

TARGETS = {'decision_change_pct': 10.0, 'kernel_gone_s': 30.0, 'tick_p95_ms': 1000.0, 'first_render_s': 3.0, 'growth': 1.05}
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-dev-shm-usage']
BROWSER_NICE = {'watched': 5, 'load': 19}   # autogroup nice of session 1's browser and of the other sessions' browser
SAMPLE_S = 5.0
TITLE_TICK = re.compile(r'tick (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC')
OBSERVER_JS = """() => {
  const box = document.querySelector('.tb-chart');
  window.__tbTitles = [];
  let last = null;
  const note = () => {
    const t = document.querySelector('.tb-chart .gtitle');
    const text = t ? t.textContent : null;
    if (text !== last) { last = text; window.__tbTitles.push([Date.now(), text]); }
  };
  new MutationObserver(note).observe(box, {childList: true, subtree: true, characterData: true});
  note();
  return true;
}"""
COUNT_WS_BYTES = """(() => {
  window.__tbWsBytes = 0; window.__tbWsMessages = 0;
  const Native = window.WebSocket;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const d = e.data;
      window.__tbWsBytes += typeof d === 'string' ? d.length : (d.byteLength || d.size || 0);
      window.__tbWsMessages += 1;
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();"""
WS_COUNTS = '() => [Date.now(), window.__tbWsBytes, window.__tbWsMessages]'
PRICE_SHOWN = "() => /\\d/.test((document.querySelector('.tb-ticker-BTCUSDT .tb-last') || {}).textContent || '')"


def stats(values) -> dict:
    "p50, p95, p99, max and n of `values` (NaN when empty)."
    a = np.asarray([v for v in values if v is not None], dtype=float)
    if not a.size: return dict.fromkeys(('p50', 'p95', 'p99', 'max'), float('nan')) | {'n': 0}
    return {'p50': float(np.percentile(a, 50)), 'p95': float(np.percentile(a, 95)), 'p99': float(np.percentile(a, 99)),
            'max': float(a.max()), 'n': int(a.size)}


def p99_change_interval(alone, loaded, draws: int = 2000, seed: int = 0) -> tuple:
    "95 % bootstrap interval (%) of the change of the p99 from `alone` to `loaded` (each resampled with replacement)."
    a, b = (np.asarray([v for v in x if v is not None], dtype=float) for x in (alone, loaded))
    if not a.size or not b.size: return float('nan'), float('nan')
    rng = np.random.default_rng(seed)
    p99 = lambda x: np.percentile(x[rng.integers(0, x.size, (draws, x.size))], 99, axis=1)
    change = 100 * (p99(b) / p99(a) - 1)
    return float(np.percentile(change, 2.5)), float(np.percentile(change, 97.5))


def first_bar(args) -> int:
    "The simulator's first bar: early enough that the embedded bars last the whole run at `--speed` (its default, the last 90 days, lasts 9 min at 4 bars/s)."
    from tradebot.sim.exchange import MarketReplay, default_bars
    seconds = args.warmup_seconds + 60 * (args.baseline_minutes + args.minutes) + args.idle_seconds + 20 * args.sessions + 600   # + logins, close, margin
    return max(1, len(MarketReplay(default_bars()).timeline) - int(args.speed * seconds) - 1)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'): return line.split(':', 1)[1].strip()
    return 'unknown CPU'


def tick_ms(title: str) -> int | None:
    "The exchange time (ms) of the tick in a chart title, None if it shows no tick."
    found = TITLE_TICK.search(title or '')
    if not found: return None
    when = dt.datetime.strptime(found.group(1), '%Y-%m-%d %H:%M:%S.%f').replace(tzinfo=dt.timezone.utc)
    return round(when.timestamp() * 1000)


class Decisions:
    "The backend's decision records by id, read from GET /decisions (the newest `limit`) at each `poll()`, every few seconds."
    limit = 200   # 50 s of decisions at 4 a second: a poll every 5 s misses none, and the backend serializes few records
    def __init__(self, http):
        self.http, self.records = http, {}

    def poll(self) -> int:
        "Read the newest records; the highest id seen so far."
        with contextlib.suppress(Exception):
            for record in self.http.get('/decisions', params={'limit': self.limit}).json(): self.records[record['id']] = record
        return max(self.records, default=0)

    def between(self, first: int, last: int) -> list:
        "`latency_ms` of the decisions with first < id <= last (warm-up records without a latency left out)."
        return [r['latency_ms'] for r in self.timed(first, last)]

    def timed(self, first: int, last: int) -> list:
        "The records with first < id <= last that have a `latency_ms`."
        return [r for i, r in self.records.items() if first < i <= last and r.get('latency_ms') is not None]

    def by_kind(self, first: int, last: int) -> dict:
        "Stats of the window's decisions that submitted no order ('plain') and of those that submitted one ('order')."
        records = self.timed(first, last)
        return {kind: stats([r['latency_ms'] for r in records if bool(r.get('intent')) == (kind == 'order')]) for kind in ('plain', 'order')}

    def summary(self, first: int, last: int, tag: str) -> dict:
        "`tag`'s stats, latencies, stats by kind and slowest decisions, as `run`'s output keys."
        latencies = self.between(first, last)
        return {tag: stats(latencies), f'latencies_{tag}': latencies, f'kinds_{tag}': self.by_kind(first, last), f'slowest_{tag}': self.slowest(first, last)}

    def slowest(self, first: int, last: int, n: int = 5) -> str:
        "The `n` slowest decisions of the window: latency (ms), '+order' where an order intent was submitted, and '@k': the k-th of the window."
        records = sorted(self.timed(first, last), key=lambda r: -r['latency_ms'])[:n]
        return ' '.join(f"{r['latency_ms']:.2f}{'+order' if r.get('intent') else ''}@{r['id'] - first}" for r in records)


class SimTicks(threading.Thread):
    "A WebSocket client of the simulator's public stream: wall time (ms) when each tickers.BTCUSDT `ts` first arrives."
    def __init__(self, port: int, symbol: str = 'BTCUSDT'):
        super().__init__(daemon=True, name='sim-ticks')
        self.url, self.topic, self.arrivals, self.frames, self.stop, self.error = f'ws://127.0.0.1:{port}/v5/public/linear', f'tickers.{symbol}', {}, 0, threading.Event(), None

    def run(self):
        from websockets.sync.client import connect
        try:
            ws, end = None, time.monotonic() + 60
            while ws is None:   # the simulator may still be starting
                try: ws = connect(self.url, open_timeout=20)
                except OSError:
                    if time.monotonic() > end or self.stop.is_set(): raise
                    time.sleep(0.5)
            with ws:
                ws.send(json.dumps({'op': 'subscribe', 'args': [self.topic]}))
                while not self.stop.is_set():
                    try: text = ws.recv(timeout=1.0)
                    except TimeoutError: continue
                    now = time.time() * 1000
                    frame = json.loads(text)
                    if frame.get('topic') == self.topic and isinstance(frame.get('ts'), int):
                        self.frames += 1; self.arrivals.setdefault(frame['ts'], now)
        except Exception as e: self.error = repr(e)


def disk_counters(path: Path) -> tuple:
    "(sectors written, flushes completed) of the block device holding `path`, from /proc/diskstats ((0, 0) if not found)."
    dev = os.stat(path).st_dev
    with contextlib.suppress(OSError):
        for line in Path('/proc/diskstats').read_text().splitlines():
            f = line.split()
            if (int(f[0]), int(f[1])) == (os.major(dev), os.minor(dev)): return int(f[9]), int(f[18]) if len(f) > 18 else 0
    return 0, 0


class Sampler:
    "RSS (MB), CPU share (% of one core) and disk writes of the backend, Voila, its kernels and the browser, every `sample()`."
    def __init__(self, backend_pid: int, sim_pid: int, autogroup_nice: int | None = None, home: Path = Path('.')):
        self.backend_pid, self.sim_pid, self.server, self.rows, self.procs = backend_pid, sim_pid, None, [], {}
        self.autogroup_nice = autogroup_nice   # set on Voila's and each kernel's autogroup at each look (None: as shipped)
        self.home, self.written = home, {}     # the journal's disk; bytes written by each pid at the last sample
        self.last_disk = (time.monotonic(), *disk_counters(home))

    def renice(self):
        "With `autogroup_nice`: put Voila's and every kernel's autogroup at that nice."
        if self.autogroup_nice is None or self.server is None or not self.server.service: return
        for pid in [self.server.service.process.pid, *(p.pid for p in self.server.kernels().values())]: set_autogroup_nice(pid, self.autogroup_nice)
        psutil.cpu_percent(None)

    def proc(self, pid: int) -> psutil.Process:
        "A cached psutil process, so that cpu_percent measures since the last sample."
        if pid not in self.procs:
            self.procs[pid] = p = psutil.Process(pid); p.cpu_percent(None)
        return self.procs[pid]

    def groups(self) -> dict:
        def family(pid):
            with contextlib.suppress(psutil.Error): return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
            return []
        backend = family(self.backend_pid)
        voila = [self.server.service.process.pid] if self.server is not None and self.server.service else []
        kernels = list(self.server.kernels().values()) if self.server is not None else []
        sim = family(self.sim_pid)
        taken = {p.pid for p in backend + sim} | {p.pid for v in voila for p in family(v)} | {p.pid for p in kernels}
        browser = [p for p in psutil.Process(os.getpid()).children(recursive=True) if p.pid not in taken]
        return {'backend': [p.pid for p in backend], 'sim': [p.pid for p in sim], 'voila': voila, 'kernels': [p.pid for p in kernels],
                'browser': [p.pid for p in browser], 'bench': [os.getpid()]}

    def sample(self, tag: str) -> dict:
        self.renice(); confine_browsers(self.groups()['browser'])
        row = {'t': time.monotonic(), 'tag': tag, 'system_cpu': psutil.cpu_percent(None), 'load': os.getloadavg()[0]}
        (t0, sectors0, flushes0), now = self.last_disk, (row['t'], *disk_counters(self.home))
        seconds = max(now[0] - t0, 1e-3); self.last_disk = now
        row['disk_kb_s'], row['disk_flushes_s'] = (now[1] - sectors0) * 512 / 1000 / seconds, (now[2] - flushes0) / seconds
        for name, pids in self.groups().items():
            rss = cpu = written = 0.0
            for pid in pids:
                with contextlib.suppress(psutil.Error, AttributeError):
                    p = self.proc(pid); cpu += p.cpu_percent(None); rss += p.memory_info().rss / 2**20
                    total = p.io_counters().write_bytes; written += total - self.written.get(pid, total); self.written[pid] = total
            row[name], row[f'{name}_cpu'], row[f'{name}_n'], row[f'{name}_write_kb_s'] = rss, cpu, len(pids), written / 1000 / seconds
        self.rows.append(row)
        return row

    def tagged(self, tag: str) -> list: return [r for r in self.rows if r['tag'] == tag]


def start_simulator(home: Path, speed: float, ticks_per_bar: int, start: int) -> subprocess.Popen:
    "`tradebot sim` on a free port (its `port`) from bar `start`, answering; the backend connects to it as to an exchange."
    from livestack import EXE, free_port
    from tradebot.dashboard.serve import http_answers
    port = free_port()
    process = subprocess.Popen([EXE, 'sim', '--port', str(port), '--speed', str(speed), '--ticks-per-bar', str(ticks_per_bar), '--start', str(start)], cwd=home, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ | {'TRADEBOT_HOME': str(home)},
                               start_new_session=True)   # the exchange: a session (scheduler autogroup) of its own
    process.port = port
    try: wait_for(lambda: process.poll() is not None or http_answers(f'http://127.0.0.1:{port}/', 1.0), 60, 'simulator')
    except BaseException: process.kill(); raise
    if process.poll() is not None: raise RuntimeError(f'tradebot sim exited with status {process.returncode}')
    return process


class Session:
    "One browser context and page logged in to the dashboard, on the pooled kernel it took."
    def __init__(self, context, page, kernel_id: str, first_render: float, form_s: float, user: str):
        self.context, self.page, self.kernel_id, self.first_render, self.form_s, self.user = context, page, kernel_id, first_render, form_s, user
        self.closed_at = None


def preheated_count(server) -> int:
    from tradebot.dashboard.serve import PREHEATED
    return server.service.output().count(PREHEATED)


def wait_for(check, seconds: float, what: str, step: float = 0.25):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if (value := check()): return value
        time.sleep(step)
    raise TimeoutError(f'no {what} after {seconds:g} s')


def open_session(browser, server, user: str, password: str, opened: int, blocked: list, sampler: Sampler, count_ws: bool = False) -> Session:
    "A new context + page on a preheated kernel, logged in; the first render timed from the click."
    from browser import is_local
    wait_for(lambda: preheated_count(server) >= opened + 1 and len(server.kernels()) >= opened + 1, 180, 'preheated kernel')
    sampler.renice()
    pooled = set(server.kernels()) - set(getattr(server, 'session_ids', ()))
    context = browser.new_context(viewport={'width': 1400, 'height': 1000})
    context.set_default_timeout(60_000)
    if count_ws: context.add_init_script(COUNT_WS_BYTES)   # bytes the page's websockets receive (characters for text frames)
    context.route('**/*', lambda route: route.continue_() if is_local(route.request.url) else (blocked.append(route.request.url), route.abort()))
    page = context.new_page()
    page.console_errors = []
    page.on('pageerror', lambda error: page.console_errors.append(str(error)))
    start = time.monotonic()
    page.goto(server.url)
    page.wait_for_selector('.tb-login-user input', state='visible')
    form_s = time.monotonic() - start
    page.fill('.tb-login-user input', user); page.fill('.tb-login-pass input', password)
    clicked = time.monotonic()
    page.click('.tb-login-button')
    page.wait_for_selector('.tb-chart .main-svg', state='visible')
    page.wait_for_function(PRICE_SHOWN, polling=50)
    first_render = time.monotonic() - clicked
    badge = page.inner_text('.tb-badge')
    if 'LIVE' not in badge: print(f'  warning: {user} badge reads {badge!r}', flush=True)
    taken = pooled & set(server.kernels())
    kernel_id = sorted(taken)[0] if len(taken) == 1 else None
    if kernel_id is None: print(f'  warning: could not tell which kernel {user} took (pool {pooled})', flush=True)
    server.session_ids = [*getattr(server, 'session_ids', ()), *( [kernel_id] if kernel_id else [])]
    return Session(context, page, kernel_id, first_render, form_s, user)


def hold(seconds: float, page, sampler: Sampler, decisions: Decisions, tag: str):
    "Keep everything open for `seconds`, sampling every SAMPLE_S (the page's wait keeps Playwright's pipe drained)."
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sampler.sample(tag); decisions.poll()
        page.wait_for_timeout(min(SAMPLE_S, left) * 1000)
    sampler.sample(tag); decisions.poll()


def tick_latencies(titles: list, arrivals: dict, t0_ms: float, t1_ms: float) -> tuple:
    "Tick-to-screen latencies (ms) of title changes in [t0_ms, t1_ms] and how many titles had no simulator frame."
    out, unmatched = [], 0
    for when, text in titles:
        if not t0_ms <= when <= t1_ms or (ts := tick_ms(text)) is None: continue
        if ts in arrivals: out.append(when - arrivals[ts])
        else: unmatched += 1
    return out, unmatched


def ws_rate(start: list, end: list) -> dict:
    "Bytes and messages per second between two WS_COUNTS readings."
    seconds = max((end[0] - start[0]) / 1000, 1e-9)
    return {'bytes_s': (end[1] - start[1]) / seconds, 'messages_s': (end[2] - start[2]) / seconds}


def kernel_state(server, kernel_id: str) -> int | None:
    "Open websockets of a kernel (Voila's /api/kernels/ID), None once it is gone (404 and no process)."
    try:
        with urllib.request.urlopen(f'{server.url}api/kernels/{kernel_id}', timeout=5) as answer: return json.load(answer).get('connections', 0)
    except urllib.error.HTTPError as e:
        if e.code == 404 and kernel_id not in server.kernels(): return None
        return -1
    except OSError: return -1


def close_all(sessions: list, server, limit: float) -> dict:
    "Close every tab (run_before_unload); kernel id -> (seconds until its websockets closed, until it was gone), None: not within `limit`."
    for s in sessions:
        s.page.close(run_before_unload=True); s.closed_at = time.monotonic()
    alone, gone, end, ids = {}, {}, time.monotonic() + limit, [s.kernel_id for s in sessions if s.kernel_id]
    while time.monotonic() < end and len(gone) < len(ids):
        for s in sessions:
            if not s.kernel_id or s.kernel_id in gone: continue
            state, now = kernel_state(server, s.kernel_id), time.monotonic()
            if state in (0, None): alone.setdefault(s.kernel_id, now - s.closed_at)
            if state is None: gone[s.kernel_id] = now - s.closed_at
        time.sleep(0.25)
    return {k: (alone.get(k), gone.get(k)) for k in ids}


def autogroup(pid: int) -> str:
    "The scheduler autogroup of `pid` and its nice ('/autogroup-649 nice 0'), '?' where unreadable."
    try: return Path(f'/proc/{pid}/autogroup').read_text().strip()
    except OSError: return '?'


def backend_scheduling(pid: int) -> dict:
    "How many of `pid`'s threads run under each (policy, real-time priority, I/O class/level): what `tradebot live --realtime` got."
    from tradebot.compute import io_priority
    names, counts = {os.SCHED_OTHER: 'OTHER', os.SCHED_RR: 'RR', os.SCHED_FIFO: 'FIFO'}, {}
    for tid in map(int, os.listdir(f'/proc/{pid}/task')):
        with contextlib.suppress(OSError):
            key = f"{names.get(os.sched_getscheduler(tid), '?')} {os.sched_getparam(tid).sched_priority}, io {io_priority(tid)}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def set_autogroup_nice(pid: int, nice: int) -> bool:
    "Set the nice of `pid`'s autogroup (its whole session), as `echo N > /proc/PID/autogroup`; whether it worked."
    try: Path(f'/proc/{pid}/autogroup').write_text(str(nice)); return True
    except OSError: return False


def chromium_pids() -> set:
    return {p.pid for p in psutil.Process(os.getpid()).children(recursive=True) if 'chrom' in p.name()}


BROWSER_CPUS: list = []   # --browser-cpus: the CPUs the browsers may use (empty: any)

IDLE_CGROUP: list = []    # --browsers-idle: the idle cpu cgroup the load browser (sessions 2..N) runs in (empty: none)
IDLE_SESSIONS: set = set()   # the sessions (os.getsid) of the browsers that go into IDLE_CGROUP
CPU_CGROUP_ROOTS = ('/sys/fs/cgroup/cpu', '/sys/fs/cgroup')   # cgroup v1's cpu controller, the unified v2 hierarchy

def make_idle_cgroup(name: str = 'tradebot-bench-browsers') -> str | None:
    "A cpu cgroup with cpu.idle = 1 (its tasks only get CPU no other task wants); None where it cannot be made (not root)."
    for root in map(Path, CPU_CGROUP_ROOTS):
        group = root / name
        try:
            group.mkdir(exist_ok=True); (group / 'cpu.idle').write_text('1\n')
            if (group / 'cpu.idle').read_text().strip() == '1': return str(group)
        except OSError: continue
    return None

def confine_browsers(pids) -> None:
    "Keep the browsers' processes on BROWSER_CPUS, and the load browser's in IDLE_CGROUP (they stand in for the users' own machines); new ones inherit both."
    for pid in pids if BROWSER_CPUS else ():
        with contextlib.suppress(psutil.Error): psutil.Process(pid).cpu_affinity(BROWSER_CPUS)
    for pid in pids if IDLE_CGROUP else ():
        with contextlib.suppress(OSError):
            if os.getsid(pid) in IDLE_SESSIONS: Path(IDLE_CGROUP[0], 'cgroup.procs').write_text(f'{pid}\n')


def launch_browser(playwright, nice: int, idle: bool = False):
    "Debian's chromium with the autogroup of its session (all its processes, later ones too) at `nice`; `idle`: in IDLE_CGROUP."
    def session(pid):
        with contextlib.suppress(OSError): return os.getsid(pid)
    before = {session(pid) for pid in chromium_pids()}   # earlier browsers' sessions (they keep starting processes)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    for pid in chromium_pids():
        if session(pid) not in before:
            set_autogroup_nice(pid, nice)
            if idle: IDLE_SESSIONS.add(session(pid))
    confine_browsers(chromium_pids())
    return browser


def memory(rows: list, key: str) -> dict:
    "First, max and last RSS (MB) of `key` over `rows`, and whether the second half's max stays within TARGETS['growth'] x the first half's."
    values = [r[key] for r in rows]
    if len(values) < 2: return {'first': float('nan'), 'max': float('nan'), 'last': float('nan'), 'bounded': False}
    half = len(values) // 2
    return {'first': values[0], 'max': max(values), 'last': values[-1], 'bounded': max(values[half:]) <= TARGETS['growth'] * max(values[:half])}


def mean(rows: list, key: str) -> float:
    values = [r[key] for r in rows[1:]]   # the first sample's cpu_percent covers the time since the previous phase
    return statistics.fmean(values) if values else float('nan')


def run(args, home: Path) -> dict:
    from livestack import Live
    from playwright.sync_api import sync_playwright
    from tradebot.dashboard.serve import DashboardServer, default_notebook, kernel_env
    from tradebot.dashboard.users import UserStore
    users = UserStore(home / 'data' / 'users.json')
    names = [f'loadbench{i:02d}' for i in range(args.sessions)]
    password = 'load-bench-password-1'
    for name in names:
        with contextlib.suppress(Exception): users.remove(name)
        users.add(name, password)
    out = {'load_start': os.getloadavg()[0]}
    simulator, live, server = start_simulator(home, args.speed, args.ticks_per_bar, args.start_bar), None, None
    try:
        live = Live(home, sim_port=simulator.port, speed=args.speed, log_level='WARNING', start_new_session=True)   # as from its own terminal
        decisions, sampler, sim = Decisions(live.http), Sampler(live.proc.pid, simulator.pid, args.autogroup_nice, home), SimTicks(simulator.port)
        sim.start()
        wait_for(lambda: sum(r.get('latency_ms') is not None for r in decisions.records.values()) >= 3 or decisions.poll() < 0, 180, 'decisions', 0.5)
        print(f'backend up at {live.url} (pid {live.proc.pid}), deciding; warm-up {args.warmup_seconds:g} s, baseline {args.baseline_minutes:g} min', flush=True)
        time.sleep(args.warmup_seconds)   # the first decisions after start are slower (first calls, real-time switch): not the baseline
        with contextlib.suppress(TimeoutError):   # nor is the first order (its first journal write: 8.3 ms against ~3)
            wait_for(lambda: decisions.poll() < 0 or any(r.get('intent') for r in decisions.records.values()), 120, 'a first order', 0.5)
        first = decisions.poll(); end = time.monotonic() + args.baseline_minutes * 60
        while (left := end - time.monotonic()) > 0: sampler.sample('alone'); decisions.poll(); time.sleep(min(SAMPLE_S, left))
        sampler.sample('alone'); out |= decisions.summary(first, decisions.poll(), 'alone')
        print(f"  alone: decision p50/p99 {out['alone']['p50']:.2f} / {out['alone']['p99']:.2f} ms (n {out['alone']['n']})", flush=True)

        env = kernel_env(live.url, home / 'data' / 'live' / 'api_token', os.environ | {'TRADEBOT_HOME': str(home)})
        started = time.monotonic()
        server = DashboardServer(default_notebook(), port=0, env=env).start(); sampler.server = server
        out['voila_start_s'] = time.monotonic() - started
        blocked = []
        with sync_playwright() as playwright:
            browser, load_browser = (launch_browser(playwright, BROWSER_NICE[k], idle=k == 'load') for k in ('watched', 'load'))
            sessions = [open_session(browser, server, names[0], password, 0, blocked, sampler, count_ws=True)]
            watched = sessions[0].page
            watched.evaluate(OBSERVER_JS)
            print(f'  session 1 logged in: first render {sessions[0].first_render:.2f} s; 1 session for {args.idle_seconds:g} s', flush=True)
            first, t0, ws0 = decisions.poll(), time.time() * 1000, watched.evaluate(WS_COUNTS)
            hold(args.idle_seconds, watched, sampler, decisions, 'one')
            out |= decisions.summary(first, decisions.poll(), 'one'); out['one_window'] = (t0, time.time() * 1000)
            out['ws_one'] = ws_rate(ws0, watched.evaluate(WS_COUNTS))
            for i in range(1, args.sessions):
                sessions.append(open_session(load_browser, server, names[i], password, i, blocked, sampler))
                print(f'  session {i + 1} logged in: first render {sessions[-1].first_render:.2f} s', flush=True)
                sampler.sample('ramp')
            print(f'  {len(sessions)} sessions open; holding {args.minutes:g} min', flush=True)
            first, t0, ws0 = decisions.poll(), time.time() * 1000, watched.evaluate(WS_COUNTS)
            hold(args.minutes * 60, watched, sampler, decisions, 'many')
            out |= decisions.summary(first, decisions.poll(), 'many'); out['many_window'] = (t0, time.time() * 1000)
            out['ws_many'] = ws_rate(ws0, watched.evaluate(WS_COUNTS))
            titles = watched.evaluate('() => window.__tbTitles')
            groups = sampler.groups()
            out['autogroups'] = {name: sorted({autogroup(pid) for pid in pids}) for name, pids in groups.items() if name != 'bench'}
            out['backend_threads'] = backend_scheduling(live.proc.pid)
            out['kernel_ids'] = [s.kernel_id for s in sessions]
            out['first_render'] = [s.first_render for s in sessions]
            out['form_s'] = [s.form_s for s in sessions]
            out['page_errors'] = sum(len(s.page.console_errors) for s in sessions)
            out['page_error_texts'] = sorted({f'session {i + 1}: {e[:160]}' for i, s in enumerate(sessions) for e in s.page.console_errors})
            open_kernels = len(server.kernels())
            out['gone'] = close_all(sessions, server, args.close_limit)
            out['kernels_before_close'], out['kernels_after_close'] = open_kernels, len(server.kernels())
            browser.close(); load_browser.close()
        out['blocked'] = len(blocked)
        sim.stop.set(); sim.join(5)
        out['sim_frames'], out['sim_error'] = sim.frames, sim.error
        for tag in ('one', 'many'):
            lat, unmatched = tick_latencies(titles, sim.arrivals, *out[f'{tag}_window'])
            out[f'tick_{tag}'], out[f'tick_{tag}_unmatched'] = stats(lat), unmatched
        out['titles'] = len(titles)
        out['rows'] = {tag: sampler.tagged(tag) for tag in ('alone', 'one', 'many')}
        return out
    finally:
        if server is not None: server.stop()
        if live is not None:
            with contextlib.suppress(Exception): live.stop()
        simulator.terminate()
        try: simulator.wait(15)
        except subprocess.TimeoutExpired: simulator.kill(); simulator.wait()
        for name in names:
            with contextlib.suppress(Exception): users.remove(name)


def table(out: dict, args) -> str:
    n = args.sessions
    cols = ('alone', 'one', 'many')
    head = f'| measurement | backend alone | 1 session | {n} sessions | target |'
    rows = [head, '|---|---:|---:|---:|---|']
    def row(label, cells, target=''): rows.append(f'| {label} | ' + ' | '.join(cells) + f' | {target} |')
    mark = lambda ok: '✓' if ok else '✗'
    d = {c: out[c] for c in cols}
    change = lambda c: 100 * (d[c]['p99'] / d['alone']['p99'] - 1)
    row('decision latency_ms p50 / p99 (n)', [f"{d[c]['p50']:.2f} / {d[c]['p99']:.2f} ({d[c]['n']})" for c in cols])
    row('decision p99 change vs backend alone', ['-', f"{change('one'):+.1f} %", f"**{change('many'):+.1f} %** {mark(change('many') <= TARGETS['decision_change_pct'])}"], '<= +10 %')
    low, high = p99_change_interval(out['latencies_alone'], out['latencies_many'])
    row('decision p99 change, 95 % bootstrap interval', ['-', '-', f'{low:+.1f} % .. {high:+.1f} %'], '(info: the noise of two p99)')
    for kind, label in (('plain', 'decisions without an order'), ('order', 'decisions with an order intent (journal fsync)')):
        row(f'{label}, p50 / p99 (n)', [f"{out['kinds_' + c][kind]['p50']:.2f} / {out['kinds_' + c][kind]['p99']:.2f} ({out['kinds_' + c][kind]['n']})" for c in cols], '(info)')
    t1, tn = out['tick_one'], out['tick_many']
    tick = lambda t: f"{t['p50']:.0f} / {t['p95']:.0f} / {t['max']:.0f} ({t['n']}) {mark(t['p95'] <= TARGETS['tick_p95_ms'])}"
    row('tick-to-screen ms, p50 / p95 / max (n)', ['-', tick(t1), tick(tn)], 'p95 <= 1000')
    fr = out['first_render']
    row('first render after login, s (session 1 / median of the rest, nice-19 browser)', ['-', f"{fr[0]:.2f} {mark(fr[0] <= TARGETS['first_render_s'])}",
        (f"{statistics.median(fr[1:]):.2f} (max {max(fr[1:]):.2f}), info" if len(fr) > 1 else '-')], '<= 3 (session 1)')
    gone = [v[1] for v in out['gone'].values()]
    worst = max((v for v in gone if v is not None), default=float('nan'))
    ok = len(gone) == n and all(v is not None and v <= TARGETS['kernel_gone_s'] for v in gone)
    row('session kernels gone after tab close, s (max; gone / sessions)', ['-', '-', f"{worst:.1f}; {sum(v is not None for v in gone)} / {n} {mark(ok)}"], '<= 30')
    rs = out['rows']
    for key, label in (('backend', 'backend RSS MB, first / max / last'), ('voila', 'Voila server RSS MB, first / max / last'),
                       ('kernels', 'kernels RSS MB (sum), first / max / last')):
        cells = []
        for c in cols:
            m = memory(rs[c], key)
            cells.append('-' if m['first'] != m['first'] or m['max'] == 0 else f"{m['first']:.0f} / {m['max']:.0f} / {m['last']:.0f}" + (f" {mark(m['bounded'])}" if key != 'kernels' or c == 'many' else ''))
        row(label, cells, 'bounded' if key != 'kernels' else '(info)')
    row("session 1's websockets, KB/s received / messages/s", ['-', *(f"{out[k]['bytes_s'] / 1000:.0f} / {out[k]['messages_s']:.1f}" for k in ('ws_one', 'ws_many'))], '(info)')
    row('browser RSS MB (all chromium processes), last', ['-', *(f"{rs[c][-1]['browser']:.0f}" if rs[c] else '-' for c in ('one', 'many'))], '(info)')
    for key, label in (('backend_cpu', 'CPU % of one core, backend'), ('sim_cpu', 'CPU %, simulator'), ('voila_cpu', 'CPU %, Voila server'), ('kernels_cpu', 'CPU %, kernels (sum)'),
                       ('browser_cpu', 'CPU %, browsers (autogroup nice 5 / 19)'), ('bench_cpu', 'CPU %, this script'), ('system_cpu', 'CPU % of the whole box (all cores = 100)')):
        row(label + ' (mean)', [f'{mean(rs[c], key):.1f}' for c in cols], '(info)')
    row('load average (1 min), mean', [f"{mean(rs[c], 'load'):.2f}" for c in cols], '(info)')
    row("disk writes KB/s / flushes/s of the journal's disk (mean)", [f"{mean(rs[c], 'disk_kb_s'):.0f} / {mean(rs[c], 'disk_flushes_s'):.1f}" for c in cols], '(info)')
    row('disk writes KB/s: backend / Voila / kernels / browsers (mean)', [' / '.join(f"{mean(rs[c], g + '_write_kb_s'):.0f}" for g in ('backend', 'voila', 'kernels', 'browser')) for c in cols], '(info)')
    return '\n'.join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sessions', type=int, default=10, help='concurrent dashboard sessions (browser contexts)')
    parser.add_argument('--minutes', type=float, default=5.0, help='minutes with all sessions open')
    parser.add_argument('--baseline-minutes', type=float, default=None, help='minutes of the backend alone (default: --minutes, so that both p99 are taken over as many decisions)')
    parser.add_argument('--warmup-seconds', type=float, default=30.0, help='seconds of decisions left out before the baseline (the first ones after start are slower)')
    parser.add_argument('--idle-seconds', type=float, default=60.0, help='seconds with one session (idle tick-to-screen)')
    parser.add_argument('--speed', type=float, default=4.0, help='simulator bars per second (one decision per bar): 4 gives 1,200 '
                        'decisions in 5 minutes, so a p99 rests on the 12 slowest, not the 3 slowest of 300 at speed 1')
    parser.add_argument('--ticks-per-bar', type=int, default=None, help='simulator ticks per bar (default: 20 ticks a second '
                        'per symbol, 20 / --speed, at least 4), so the dashboards get the same tick rate at any speed')
    parser.add_argument('--close-limit', type=float, default=120.0, help='seconds to wait for the session kernels after closing the tabs')
    parser.add_argument('--autogroup-nice', type=int, default=None,
                        help="write this nice into Voila's and each kernel's scheduler autogroup (default: as shipped, untouched)")
    parser.add_argument('--home', default=None, help='a TRADEBOT_HOME with trained runs (default: a temp one with quick runs)')
    parser.add_argument('--browser-cpus', default='', help="CPUs the browsers may use, e.g. '1' (default: any): the browsers stand in "
                        "for the users' own machines, so that the backend's figure shows the dashboard's server side")
    parser.add_argument('--browsers-idle', action='store_true', help="run the browser of sessions 2..N in a cpu cgroup with cpu.idle = 1 (needs root): "
                        "they stand in for the users' own machines and only get CPU the box's own processes leave")
    args = parser.parse_args(argv)
    if args.baseline_minutes is None: args.baseline_minutes = args.minutes
    if args.ticks_per_bar is None: args.ticks_per_bar = max(4, round(20 / args.speed))
    args.start_bar = first_bar(args)
    BROWSER_CPUS[:] = [int(c) for c in args.browser_cpus.split(',') if c.strip()]
    if args.browsers_idle:
        if (group := make_idle_cgroup()) is None: sys.exit('--browsers-idle: no cpu cgroup with cpu.idle could be made here (needs root and cgroup cpu.idle)')
        IDLE_CGROUP[:] = [group]
    if not Path(CHROMIUM).exists(): sys.exit(f'{CHROMIUM} is missing: `bash .ci/install` installs Debian chromium')
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix='dashboard_load_home_') as tmp:
        if args.home: home = Path(args.home).resolve()
        else:
            from livestack import train_quick_runs
            home = Path(tmp); start = time.perf_counter(); train_quick_runs(home)
            print(f'trained quick runs in {time.perf_counter() - start:.0f} s', flush=True)
        os.environ['TRADEBOT_HOME'] = str(home)
        print(f'dashboard load benchmark: {cores} cores ({cpu_model()}), {args.sessions} sessions for {args.minutes:g} min, '
              f'baseline {args.baseline_minutes:g} min, 1 session {args.idle_seconds:g} s, sim {args.speed:g} bars/s of {args.ticks_per_bar} ticks from bar {args.start_bar}, '
              f'load average {os.getloadavg()[0]:.2f} at start'
              + (f', browsers confined to CPU {args.browser_cpus}' if BROWSER_CPUS else ', browsers on any CPU')
              + (f', load browser in idle cgroup {IDLE_CGROUP[0]}' if IDLE_CGROUP else ''), flush=True)
        try: out = run(args, home)
        finally:
            for group in IDLE_CGROUP:   # empty once the browsers are gone
                with contextlib.suppress(OSError): Path(group).rmdir()
    print()
    print(table(out, args))
    print('\nslowest decisions (latency_ms; +order: an order intent was submitted; @k: the k-th decision of the phase): ' +
          '; '.join(f"{tag} {out['slowest_' + tag]}" for tag in ('alone', 'one', 'many')))
    print(f"\nfirst renders (s): {' '.join(f'{v:.2f}' for v in out['first_render'])}; login form shown after goto (s): "
          f"{' '.join(f'{v:.2f}' for v in out['form_s'])}; Voila start {out['voila_start_s']:.1f} s")
    fmt = lambda v: '-' if v is None else f'{v:.1f}'
    print(f"after tab close (s), websockets closed / kernel gone: {' '.join(f'{fmt(a)}/{fmt(g)}' for a, g in out['gone'].values())}; "
          f"kernels before / after closing: {out['kernels_before_close']} / {out['kernels_after_close']} (the pool's fresh one stays)")
    print(f"chart title changes: {out['titles']}; without a simulator frame: {out['tick_one_unmatched']} + {out['tick_many_unmatched']}; "
          f"simulator frames: {out['sim_frames']}{'; sim client error ' + out['sim_error'] if out['sim_error'] else ''}; "
          f"page errors: {out['page_errors']}; blocked non-loopback requests: {out['blocked']}")
    for text in out['page_error_texts']: print(f"  page error, {text}")
    print('scheduler autogroups (kernel.sched_autogroup_enabled = '
          f"{Path('/proc/sys/kernel/sched_autogroup_enabled').read_text().strip() if Path('/proc/sys/kernel/sched_autogroup_enabled').exists() else '?'}): "
          + '; '.join(f"{name}: {', '.join(groups)}" for name, groups in out['autogroups'].items()))
    print(f"backend threads by scheduling (policy, real-time priority, I/O class and level): {out['backend_threads']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
