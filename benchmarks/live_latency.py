"""Live stack latency: tick-to-decision of a 3-model council, fan-out to 100 WebSocket clients, and the loop's jitter.

    python benchmarks/live_latency.py [--bars 300] [--speed 10] [--jitter-seconds 30] [--clients 100]
                                      [--runs RUN RUN RUN] [--contender busy|train|none] [--switch-interval S] [--cpu-nice N] [--realtime P] [--profile]

Everything runs on 127.0.0.1, through the real pieces: a simulator (`tradebot.sim.SimExchange`, in a child process)
replays the embedded BTCUSDT + ETHUSDT bars; the live process is `build_live_system` (FeedClient, PriceCache,
LiveBars, Council, StrategyRunner, PaperBroker with its SQLite journal) served by `LiveServer(create_app(...))`;
the WebSocket clients are one asyncio loop in a third process holding `--clients` `websockets` connections to
`/ws/prices` (bearer token in the header). The council is a Q-learning, a DQN and a PPO run trained with the quick
budgets into a temp folder (a few seconds), unless `--runs` names existing runs. Guards: cooldown 0, no order-rate
cap, strategy started, so every changed vote becomes an order intent submitted to the paper broker.

1. tick-to-decision (phase "decide", sim at `--speed` bars/s, 4 ticks per bar, clients connected and reading):
   t0 = time.monotonic() when the feed hands a kline frame that closes a bar to `runner.on_kline` (the script
   wraps the callback); t1 = time.monotonic() right after the runner published that bar's decision record
   (`runner.publish`, called by `record` after `send` submitted the intent to the broker and after the journal
   write). Latency = t1 - t0 for the first `--bars` decisions after warm-up. The runner's own `latency_ms`
   (decide start -> record) and the time spent inside `feature_rows`, the council's ballot (`send_votes` to `count_votes`) and `send` (wrapped on
   the instance, perf_counter) are shown as info; `--profile` adds a cProfile of the phase (event-loop thread only).
2. fan-out (same phase): every ticker event on the bus carries `received` = time.monotonic() of the tick's
   arrival in the PriceCache; each client notes time.monotonic() when `recv()` returns it (CLOCK_MONOTONIC is the
   same clock in both processes on Linux). Latency = receipt - received, over all clients' ticker messages of
   ticks received during the phase; the table also says how many ticker events each client got against how many
   the bus published in that window (all clients must get all of them).
3. jitter (phase "jitter", a fresh stack with the sim at 1 bar/s and 10 ticks per bar, i.e. 20 ticks/s, one
   decision per second, same 100 clients): the runner's loop runs with its real period, tick_s = 1.0; its
   lateness per tick (`runner.loop['lateness']`: monotonic time the tick ran - time it was due) over
   `--jitter-seconds`, while a worker thread of the live process runs a login-like CPU burst back to back:
   (a) `hashlib.pbkdf2_hmac('sha256', ..., 600_000)` (releases the GIL), (b) a pure-Python loop calibrated to 0.2 s
   (holds the GIL, switching every `sys.getswitchinterval()`). Each burst's duration is measured and shown.

Both phases run twice: on the idle box, then with one other CPU-bound process (`--contender busy`: a Python busy
loop; `train`: `tradebot train --algo dqn --timesteps 100000` in a temp TRADEBOT_HOME, restarted when it ends).
Targets (2 cores): decision p99 <= 10 ms, fan-out p99 <= 20 ms, jitter p99 <= 50 ms. `--switch-interval` sets
`sys.setswitchinterval` in the live process (default: what `tradebot live` sets, 1 ms; Python's own is 5 ms) to show
its effect on the GIL-holding burst.
Every wait is bounded; all children are closed (stdin closed, then terminate, then kill) when the script ends.
"""
from __future__ import annotations
import argparse, asyncio, contextlib, hashlib, json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path

import numpy as np

SYMBOLS = ('BTCUSDT', 'ETHUSDT')
TARGETS = {'decision': 10.0, 'fanout': 20.0, 'jitter': 50.0}   # p99, ms
ALGOS = ('qlearning', 'dqn', 'ppo')


def percentiles(values) -> dict:
    "p50, p99, max (and n) of `values`, NaN when empty."
    a = np.asarray(values, dtype=float)
    if not a.size: return {'p50': float('nan'), 'p99': float('nan'), 'max': float('nan'), 'n': 0}
    return {'p50': float(np.percentile(a, 50)), 'p99': float(np.percentile(a, 99)), 'max': float(a.max()), 'n': int(a.size)}


# ---- child process 1: the simulator (`--serve-sim SPEED TICKS_PER_BAR`), until its stdin closes
async def serve_sim(speed: float, ticks_per_bar: int):
    from tradebot.sim import MarketReplay, SimExchange, default_bars
    async with SimExchange(MarketReplay(default_bars(SYMBOLS), ticks_per_bar=ticks_per_bar), speed=speed) as sim:
        print(f"port {sim.port}", flush=True)
        await asyncio.to_thread(sys.stdin.readline)


# ---- child process 2: N WebSocket clients in one loop (`--serve-clients URL TOKEN N`)
async def serve_clients(url: str, token: str, n: int):
    "Connect `n` clients; on 'report T0 T1' print the ticker latencies of ticks received in [T0, T1]; 'quit' ends."
    import websockets
    seen = [[] for _ in range(n)]          # per client: (received, arrived) of each ticker event
    decisions = [0] * n

    async def client(i: int, ws):
        async for text in ws:
            arrived = time.monotonic()
            event = json.loads(text)
            if event.get('type') == 'ticker': seen[i].append((event['received'], arrived))
            elif event.get('type') == 'decision': decisions[i] += 1

    connections = [await websockets.connect(url, additional_headers={'Authorization': f'Bearer {token}'}, open_timeout=20)
                   for _ in range(n)]
    tasks = [asyncio.create_task(client(i, ws)) for i, ws in enumerate(connections)]
    print('ready', flush=True)
    try:
        while (line := await asyncio.to_thread(sys.stdin.readline)).startswith('report'):
            t0, t1 = map(float, line.split()[1:3])
            lat, counts = [], []
            for rows in seen:
                mine = [(arrived - received) * 1000 for received, arrived in rows if t0 <= received <= t1]
                lat.extend(mine); counts.append(len(mine))
            alive = sum(not t.done() for t in tasks)
            print(json.dumps({**percentiles(lat), 'counts': counts, 'decisions': decisions, 'alive': alive}), flush=True)
            for rows in seen: rows.clear()
    finally:
        for t in tasks: t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)


def normal_priority(pid: int) -> None:
    "Niceness 0 and ordinary scheduling for a child just started: the exchange, the clients and the contender are not the live process, whose `--cpu-nice` and `--realtime` they inherit."
    for tid in map(int, os.listdir(f'/proc/{pid}/task')):
        with contextlib.suppress(OSError):
            if os.sched_getscheduler(tid) != os.SCHED_OTHER: os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            if os.getpriority(os.PRIO_PROCESS, tid) < 0: os.setpriority(os.PRIO_PROCESS, tid, 0)


class Child:
    "A child process of this script, talking over stdin/stdout lines; closed by closing its stdin, then terminate."
    def __init__(self, *args, env=None):
        self.process = subprocess.Popen([sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        normal_priority(self.process.pid)

    async def line(self, timeout: float = 60.0) -> str:
        text = await asyncio.wait_for(asyncio.to_thread(self.process.stdout.readline), timeout)
        if not text: raise RuntimeError(f'child {self.process.args[2:4]} ended (rc {self.process.poll()})')
        return text

    async def ask(self, text: str, timeout: float = 60.0) -> str:
        self.process.stdin.write(text + '\n'); self.process.stdin.flush()
        return await self.line(timeout)

    def close(self):
        with contextlib.suppress(Exception): self.process.stdin.close()
        try: self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try: self.process.wait(5)
            except subprocess.TimeoutExpired: self.process.kill(); self.process.wait()


# ---- the live process
class Probe:
    "Wraps the feed's kline callback and the runner's publish to time each bar's decision."
    def __init__(self, system):
        from tradebot.live.runner import utc_iso
        self.system, self.utc_iso, self.started, self.latencies, self.records = system, utc_iso, {}, [], []
        self.active, self.in_kline = False, None   # in_kline: when the kline callback running now began
        runner, on_kline, publish = system.runner, system.runner.on_kline, system.runner.publish
        def timed_on_kline(frame):
            t0 = self.in_kline = time.monotonic()
            try: new = on_kline(frame)   # the decision may be published before this returns (every vote in within the grace)
            finally: self.in_kline = None
            if new: self.started[self.utc_iso(new[-1] / 1000)] = t0
            return new
        def timed_publish(event):
            publish(event)
            if event.get('type') != 'decision': return
            t1, rec = time.monotonic(), event['decision']
            t0 = self.started.pop(rec['bar'], None) or self.in_kline
            if self.active and t0 is not None and rec['mode'] == 'bar_close' and rec['votes']:
                self.latencies.append(1000 * (t1 - t0)); self.records.append(rec)
        system.feed.on_kline, runner.publish = timed_on_kline, timed_publish
        self.stages = {'features': [], 'council': [], 'send': [], 'mark': [], 'drain': []}   # ms inside feature_rows, send_votes -> count_votes, send, mark, drain_quotes
        runner.feature_rows = self.timed('features', runner.feature_rows)
        send_votes, count_votes, council = runner.council.send_votes, runner.council.count_votes, runner.council
        def timed_send_votes(*args, **kwargs):   # the ballot: from sending the votes to counting them
            start = time.perf_counter(); ballot = send_votes(*args, **kwargs); ballot.sent = start; return ballot
        def timed_count_votes(ballot):
            try: return count_votes(ballot)
            finally:
                if self.active: self.stages['council'].append(1000 * (time.perf_counter() - ballot.sent))
        council.send_votes, council.count_votes = timed_send_votes, timed_count_votes
        runner.send = self.timed('send', runner.send)
        runner.mark, runner.drain_quotes = self.timed('mark', runner.mark), self.timed('drain', runner.drain_quotes)

    def timed(self, stage: str, fn):
        "`fn` (a bound method, wrapped on the instance) noting its duration in `self.stages[stage]` while active."
        def plain(*args, **kwargs):
            start = time.perf_counter()
            try: return fn(*args, **kwargs)
            finally:
                if self.active: self.stages[stage].append(1000 * (time.perf_counter() - start))
        return plain


class TickerCount:
    "Counts the ticker events the bus publishes, by their `received` time."
    def __init__(self, system):
        self.sub, self.received = system.hub.subscribe(1_000_000), []
        self.task = asyncio.create_task(self.run())
    async def run(self):
        while True:
            event = await self.sub.get()
            if event.get('type') == 'ticker': self.received.append(event['received'])
    def between(self, t0, t1) -> int: return sum(t0 <= r <= t1 for r in self.received)


async def until(condition, seconds: float, what: str):
    "Poll `condition()` every 50 ms for at most `seconds`."
    for _ in range(int(seconds / 0.05)):
        if condition(): return
        await asyncio.sleep(0.05)
    raise TimeoutError(f'no {what} after {seconds} s')


def open_rules(GuardRules):
    "Guards that let every changed vote through as an order (no cooldown, no order-rate cap where the runner has one)."
    from dataclasses import fields
    names = {f.name for f in fields(GuardRules)}
    return GuardRules(cooldown=0, **({'orders_per_minute': 1_000_000} if 'orders_per_minute' in names else {}))


@contextlib.asynccontextmanager
async def live_stack(runs, folder: Path, speed: float, ticks_per_bar: int, clients: int, args):
    "Simulator child, live system + server here, clients child; yields (system, server, clients child, ticker count)."
    from tradebot.live.app import build_live_system, freeze_startup_heap, ask_for_realtime
    from tradebot.live.runner import GuardRules
    from tradebot.live.server import LiveServer, create_app, load_or_create_token
    sim = Child('--serve-sim', str(speed), str(ticks_per_bar))
    peers = None
    try:
        port = int((await sim.line()).split()[1])
        journal = folder / f'paper-{time.monotonic_ns()}.sqlite'
        system = build_live_system(runs, f'ws://127.0.0.1:{port}/v5/public/linear', f'http://127.0.0.1:{port}',
                                   journal_path=journal, rules=open_rules(GuardRules))
        token = load_or_create_token(folder / 'live' / 'api_token')
        probe, app = Probe(system), create_app(system, token)
        probe.server_hub = app.state.hub   # the server's fan-out: counts the clients it dropped
        async with system, LiveServer(app, port=0) as server:
            freeze_startup_heap(); args.rt = ask_for_realtime(args)   # as `tradebot live` does once it is up
            count = TickerCount(system)
            peers = Child('--serve-clients', server.url.replace('http', 'ws') + '/ws/prices', token, str(clients))
            await peers.line(120)   # 'ready'
            await until(lambda: len(system.runner.bars) >= system.runner.bars_needed and system.feed.connected, 60, 'warm-up')
            system.runner.start()
            try: yield system, probe, peers, count
            finally:
                count.task.cancel(); await asyncio.gather(count.task, return_exceptions=True)
                peers.close(); peers = None
    finally:
        if peers is not None: peers.close()
        sim.close()


async def fanout_report(peers: Child, count: TickerCount, t0: float, t1: float) -> dict:
    "The clients' latencies of ticks received in [t0, t1], after the last ones had time to arrive."
    await asyncio.sleep(1.0)
    report = json.loads(await peers.ask(f'report {t0!r} {t1!r}'))
    report['expected'] = count.between(t0, t1)
    return report


async def decide_phase(runs, folder: Path, args) -> dict:
    "Phase 1 + 2: `--bars` bar-close decisions at `--speed` bars/s with the clients connected."
    async with live_stack(runs, folder, args.speed, 4, args.clients, args) as (system, probe, peers, count):
        ticks_before, profiler = system.runner.loop['ticks'], None
        if args.profile:
            import cProfile; profiler = cProfile.Profile(); profiler.enable()
        t0 = time.monotonic(); probe.active = True
        await until(lambda: len(probe.latencies) >= args.bars, args.bars / args.speed * 3 + 60, f'{args.bars} decisions')
        probe.active = False; t1 = time.monotonic()
        if profiler is not None: profiler.disable(); path = folder / f'decide-{len(args.profiles)}.prof'; profiler.dump_stats(path); args.profiles.append(path)
        records = probe.records
        lateness = list(system.runner.loop['lateness'])[-(system.runner.loop['ticks'] - ticks_before):]
        out = {'decision': percentiles(probe.latencies), **{k: percentiles(v) for k, v in probe.stages.items()}, 'runner_ms': percentiles([r['latency_ms'] for r in records]),
               'intents': sum(r['intent'] is not None for r in records), 'decisions': len(records),
               'vetoes': sum(r['veto'] is not None for r in records), 'seconds': t1 - t0,
               'loop_jitter': percentiles([1000 * x for x in lateness]),
               'abstained': sum(v.get('vote') is None for r in records for v in r['votes'])}
        out['fanout'] = await fanout_report(peers, count, t0, t1)
        out['dropped_clients'] = probe.server_hub.dropped_clients
        return out


def pbkdf2_burst():
    hashlib.pbkdf2_hmac('sha256', b'correct horse battery staple', b'0123456789abcdef', 600_000)


def spin(n: int) -> int:
    total = 0
    for i in range(n): total += i * i
    return total


def calibrated_spin(seconds: float = 0.2):
    "A pure-Python burst of about `seconds` (calibrated now)."
    start = time.perf_counter(); spin(200_000); per = (time.perf_counter() - start) / 200_000
    n = int(seconds / per)
    return lambda: spin(n)


class Burster:
    "Runs `burst()` back to back in a worker thread until stopped; keeps each burst's duration."
    def __init__(self, burst):
        self.burst, self.stop, self.durations = burst, threading.Event(), []
        self.thread = threading.Thread(target=self.run, name='login-burst', daemon=True)
    def run(self):
        if hasattr(os, 'sched_setscheduler'): os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))   # CPU-heavy work is no real-time work (the leash would drop the whole backend)
        while not self.stop.is_set():
            start = time.perf_counter(); self.burst(); self.durations.append(time.perf_counter() - start)
    def __enter__(self): self.thread.start(); return self
    def __exit__(self, *exc): self.stop.set(); self.thread.join(10)


async def jitter_phase(runs, folder: Path, args) -> dict:
    "Phase 3: the loop at tick_s = 1 s with each burst running in a worker thread, the feed and the clients on."
    out, bursts = {}, {'pbkdf2': pbkdf2_burst, 'python': calibrated_spin(0.2)}
    async with live_stack(runs, folder, 1.0, 10, args.clients, args) as (system, probe, peers, count):
        assert system.runner.tick_s == 1.0
        for name, burst in bursts.items():
            loop = system.runner.loop
            ticks_before, t0 = loop['ticks'], time.monotonic()
            with Burster(burst) as burster: await asyncio.sleep(args.jitter_seconds)
            t1, ticks = time.monotonic(), loop['ticks'] - ticks_before
            lateness = list(loop['lateness'])[-ticks:] if ticks else []
            out[name] = {'jitter': percentiles([1000 * x for x in lateness]), 'ticks': ticks, 'skipped': loop['skipped'],
                         'burst_s': float(np.mean(burster.durations)) if burster.durations else float('nan'),
                         'bursts': len(burster.durations), 'fanout': await fanout_report(peers, count, t0, t1)}
    return out


# ---- contention
class Contender:
    "One other CPU-bound process for the contended run: a busy loop, or `tradebot train` restarted when it ends."
    def __init__(self, kind: str, folder: Path):
        self.kind, self.folder, self.process, self.stop, self.thread = kind, folder, None, threading.Event(), None
    def command(self):
        if self.kind == 'busy': return [sys.executable, '-c', 'while True: pass']
        return [sys.executable, '-c', 'import sys; from tradebot.cli import main; sys.exit(main())', 'train', '--algo', 'dqn', '--timesteps', '100000']
    def run(self):
        env = {**os.environ, 'TRADEBOT_HOME': str(self.folder)}
        while not self.stop.is_set():
            self.process = subprocess.Popen(self.command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder)
            normal_priority(self.process.pid)
            while self.process.poll() is None and not self.stop.is_set(): time.sleep(0.2)
    def __enter__(self):
        if self.kind != 'none':
            self.thread = threading.Thread(target=self.run, daemon=True); self.thread.start(); time.sleep(1.0)
        return self
    def __exit__(self, *exc):
        self.stop.set()
        if self.thread is not None: self.thread.join(5)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try: self.process.wait(10)
            except subprocess.TimeoutExpired: self.process.kill(); self.process.wait()


def train_council(folder: Path) -> list:
    "A Q-learning, a DQN and a PPO run with the quick budgets, under `folder`."
    from tradebot.experiments import experiment_config, train_run
    base = [f'run.runs_dir={folder}/runs', f'data.processed_dir={folder}/processed', f'data.raw_dir={folder}/raw']
    return [train_run(algo, experiment_config(algo, overrides=base, quick=True), progress=False) for algo in ALGOS]


# ---- the table
def cell(stats: dict) -> str: return f"{stats['p50']:.2f} / {stats['p99']:.2f}"

def verdict(stats: dict, target: float) -> str: return '✓' if stats['p99'] <= target else '✗'

def counts_cell(fanout: dict) -> str:
    counts = fanout['counts']
    ok = len(counts) and min(counts) == max(counts) == fanout['expected'] and fanout['alive'] == len(counts)
    return f"{min(counts)}-{max(counts)} of {fanout['expected']} ({fanout['alive']}/{len(counts)} open) {'✓' if ok else '✗'}"


def table(results: dict, args) -> str:
    names = list(results)
    head = '| measurement (ms, p50 / p99) | ' + ' | '.join(names) + ' | target p99 |'
    rows = [head, '|---|' + '---:|' * len(names) + '---|']
    def row(label, get, target=None):
        cells = []
        for n in names:
            stats = get(results[n])
            cells.append(cell(stats) + (f' {verdict(stats, target)}' if target is not None else ''))
        rows.append(f"| {label} | " + ' | '.join(cells) + f" | {'<= %g' % target if target is not None else '(info)'} |")
    row(f'tick-to-decision, council of 3, {args.bars} bars at {args.speed:g} bars/s', lambda r: r['decide']['decision'], TARGETS['decision'])
    row(f'fan-out, tick -> {args.clients} WS clients (same phase)', lambda r: r['decide']['fanout'], TARGETS['fanout'])
    row('loop jitter, tick_s 1 s, pbkdf2 600k burst thread', lambda r: r['jitter']['pbkdf2']['jitter'], TARGETS['jitter'])
    row('loop jitter, tick_s 1 s, pure-Python 0.2 s burst thread', lambda r: r['jitter']['python']['jitter'], TARGETS['jitter'])
    row("runner's own latency_ms (decide start -> record)", lambda r: r['decide']['runner_ms'])
    row("  of which `feature_rows` (on the loop)", lambda r: r['decide']['features'])
    row("  of which the council's ballot (3 models, thread pool: `send_votes` -> `count_votes`)", lambda r: r['decide']['council'])
    row("  of which `send` (guards, broker.submit, record + journal)", lambda r: r['decide']['send'])
    row("before the decision: `mark` at bar close (broker + journal), per call", lambda r: r['decide']['mark'])
    row("before the decision: `drain_quotes` (prices to the broker), per call", lambda r: r['decide']['drain'])
    row('fan-out during the pbkdf2 / jitter phase', lambda r: r['jitter']['pbkdf2']['fanout'])
    row('fan-out during the pure-Python / jitter phase', lambda r: r['jitter']['python']['fanout'])
    row(f'loop lateness during the decide phase ({args.speed:g} decisions/s)', lambda r: r['decide']['loop_jitter'])
    def info(label, text): rows.append(f"| {label} | " + ' | '.join(text(results[n]) for n in names) + ' | |')
    info('ticker events per client, decide phase', lambda r: counts_cell(r['decide']['fanout']))
    info('ticker events per client, jitter phases', lambda r: ' / '.join(counts_cell(r['jitter'][k]['fanout']) for k in ('pbkdf2', 'python')))
    info('decisions / with an order intent / vetoed', lambda r: f"{r['decide']['decisions']} / {r['decide']['intents']} / {r['decide']['vetoes']}")
    info('burst duration, pbkdf2 / pure-Python (s)', lambda r: f"{r['jitter']['pbkdf2']['burst_s']:.3f} / {r['jitter']['python']['burst_s']:.3f}")
    info('loop ticks in the jitter phases (skipped, cumulative)', lambda r: ' / '.join(f"{r['jitter'][k]['ticks']} ({r['jitter'][k]['skipped']})" for k in ('pbkdf2', 'python')))
    info('load average (1 min) at start', lambda r: f"{r['load']:.2f}")
    return '\n'.join(rows)


async def measure(runs, folder: Path, args) -> dict:
    load = os.getloadavg()[0]
    decide = await decide_phase(runs, folder, args)
    print(f"  decide: decision p50/p99 {cell(decide['decision'])} ms, fan-out {cell(decide['fanout'])} ms", flush=True)
    jitter = await jitter_phase(runs, folder, args)
    print(f"  jitter: pbkdf2 {cell(jitter['pbkdf2']['jitter'])} ms, python {cell(jitter['python']['jitter'])} ms", flush=True)
    return {'decide': decide, 'jitter': jitter, 'load': load}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--bars', type=int, default=300, help='bar-close decisions timed (after warm-up)')
    parser.add_argument('--speed', type=float, default=10.0, help='simulator bars per second in the decision phase')
    parser.add_argument('--jitter-seconds', type=float, default=30.0, help='seconds of loop ticks per burst kind')
    parser.add_argument('--clients', type=int, default=100, help='WebSocket clients in the client process')
    parser.add_argument('--runs', nargs=3, default=None, metavar='RUN', help='existing run folders for the council (default: train quick ones)')
    parser.add_argument('--contender', choices=['busy', 'train', 'none'], default='busy', help='the other CPU-bound process of the contended run (none: skip it)')
    parser.add_argument('--switch-interval', type=float, default=None, help="sys.setswitchinterval(s) in the live process (default: tradebot live's GIL_SWITCH_INTERVAL, 0.001)")
    parser.add_argument('--cpu-nice', type=int, default=None, help="CPU niceness of this (the live) process, as `tradebot live --cpu-nice` (default: tradebot live's, -20; children run at 0)")
    parser.add_argument('--realtime', type=int, default=None, help="real-time priority of this (the live) process, as `tradebot live --realtime` (default: tradebot live's, 1; 0: none; children run at none)")
    parser.add_argument('--profile', action='store_true', help='cProfile the decide phase of each run and print the top functions')
    parser.add_argument('--serve-sim', nargs=2, help=argparse.SUPPRESS)
    parser.add_argument('--serve-clients', nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sim: return asyncio.run(serve_sim(float(args.serve_sim[0]), int(args.serve_sim[1])))
    if args.serve_clients: return asyncio.run(serve_clients(args.serve_clients[0], args.serve_clients[1], int(args.serve_clients[2])))
    import logging; logging.basicConfig(level=logging.WARNING)
    args.profiles = []
    from tradebot.live.app import GIL_SWITCH_INTERVAL, LIVE_NICENESS, LIVE_REALTIME, live_event_loop, ask_for_niceness
    sys.setswitchinterval(args.switch_interval or GIL_SWITCH_INTERVAL)   # as `tradebot live` sets it
    args.cpu_nice = LIVE_NICENESS if args.cpu_nice is None else args.cpu_nice
    args.realtime = LIVE_REALTIME if args.realtime is None else args.realtime
    args.nice = ask_for_niceness(args)   # as `tradebot live` asks (granted to root / CAP_SYS_NICE)
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix='live_latency_') as tmp:
        folder = Path(tmp)
        if args.runs: runs = [Path(r) for r in args.runs]
        else:
            start = time.perf_counter(); runs = train_council(folder)
            print(f"trained {', '.join(r.name for r in runs)} in {time.perf_counter() - start:.0f} s", flush=True)
        print(f"live latency benchmark: {cores} cores, {args.clients} clients, {args.bars} bars at {args.speed:g} bars/s, "
              f"{args.jitter_seconds:g} s of loop ticks per burst kind, GIL switch interval {sys.getswitchinterval() * 1000:g} ms, "
              f"CPU niceness {args.nice}, real-time priority {args.realtime} asked for", flush=True)
        results = {}
        for name, kind in (('idle box', 'none'), ('contended', args.contender)):
            if name == 'contended' and kind == 'none': break
            print(f"{name}{'' if kind == 'none' else f' (+ one {kind} process)'}:", flush=True)
            (folder / 'contender').mkdir(exist_ok=True)
            with Contender(kind, folder / 'contender'):
                with live_event_loop() as runner: results[name] = runner.run(measure(runs, folder, args))   # as `tradebot live` runs
        print()
        print(table(results, args))
        if args.profiles:
            import pstats
            for path in args.profiles:
                print(f'\ncProfile of the decide phase ({path.name}), top 25 by cumulative time:')
                pstats.Stats(str(path)).sort_stats('cumulative').print_stats(25)
    return 0


if __name__ == '__main__':
    sys.exit(main())
