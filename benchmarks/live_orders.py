"""Live order path: decision-to-ack latency against the simulator on loopback, and order-journal writes per second.

    python benchmarks/live_orders.py [--orders 500] [--warmup 20] [--journal-seconds 3] [--contender busy|none]
                                     [--shipped-orders 100] [--profile]

1. order latency (`OrderManager.place`, the real path): the simulator's REST server (`tradebot.sim.rest.SimRest`,
   one API key pair, embedded BTCUSDT bars) runs in a child process on 127.0.0.1; this process holds a
   `BybitRest` client (httpx, keep-alive, clock synced with `sync_time`), an `OrderJournal` on a temp file and an
   `OrderManager` with `lookup_delay=0`. Each order is a Market order of 0.001 BTCUSDT, Buy and Sell in turn (the
   account's balance never runs out), placed one after the other. For each, with t0 = time.perf_counter() right
   before `await manager.place(...)`:
   - *intent journalled*: `next_sequence` + `record_intent` committed (the script wraps `journal.record_intent`);
   - *decision-to-ack*: the order's ACKED transition committed (the script wraps `journal.transition` and notes the
     time it returned for state ACKED); this spans the orderLinkId's sequence number, the INTENT row, the SENT row,
     the signed POST /v5/order/create and its answer, and the ACKED row: 4 SQLite transactions and 1 round trip;
   - *decision-to-FILLED*: `place` returned, i.e. after the lookups (GET /v5/order/realtime), the FILLED row and
     the execution booked (GET /v5/execution/list), each order checked FILLED;
   - *create round trip* (info): the `rest.create_order` call alone (signing, HTTP on loopback, the simulator's
     signature check and matching).
   The first `--warmup` orders are not counted. The journal runs with synchronous=FULL as in production, and again
   with NORMAL as info. At the end the journal's position must equal the simulator's.

   TCP_NODELAY: `SimRest.start` makes its listening socket by hand (`socket.socket(AF_INET, SOCK_STREAM)`, so
   `proto` is 0), and asyncio sets TCP_NODELAY only on sockets whose `proto` is IPPROTO_TCP; uvicorn (h11) writes
   an answer's head and body in two sends, so on a kept-alive connection the body waits for the client's delayed
   ACK: every request takes about 44 ms on loopback. The simulator child therefore sets TCP_NODELAY on every
   accepted TCP socket (what a real exchange's server does; `nodelay_for_handmade_sockets`), and an info run of
   `--shipped-orders` orders (idle, journal FULL) measures the simulator as shipped.
2. journal writes (`OrderJournal`, no network): the writes of one filled order exactly as `OrderManager` makes
   them: `next_sequence`, `record_intent`, `transition` SENT, ACKED, FILLED (with cum_exec_qty and avg_price) and
   `add_execution`, i.e. 6 transactions per order, back to back for `--journal-seconds`, on a fresh file in a
   temp folder under /tmp (the script prints the filesystem), WAL mode, synchronous=FULL and NORMAL. Reported:
   transactions/s, orders/s and the p50/p99 time of one order's 6 writes. For scale, an info row times the disk
   itself for 1 s: a 4 KiB append + `os.fdatasync` (a FULL commit in WAL mode waits for one of these; NORMAL waits
   for none, syncing only at checkpoints), in the transactions/s column as syncs/s.

Everything runs twice: on the idle box, then while one other CPU-bound process runs (`--contender busy`: a plain
Python busy loop in a subprocess; `none` skips the contended rows). The box may be shared with other jobs: the
script prints the load average before each phase.
"""
from __future__ import annotations
import argparse, asyncio, contextlib, cProfile, io, os, pstats, subprocess, sys, tempfile, time
from decimal import Decimal
from pathlib import Path

import numpy as np

SYMBOL, CATEGORY, QTY = 'BTCUSDT', 'linear', Decimal('0.001')
KEY, SECRET = 'BENCHKEY0001', 'BENCHSECRET0001'   # the simulator's only account, made up for this run
WRITES_PER_ORDER = 6


def percentiles(values) -> dict:
    "p50, p99, max in ms (and n) of `values` in seconds."
    a = np.asarray(values, dtype=float) * 1000
    if not a.size: return {'p50': float('nan'), 'p99': float('nan'), 'max': float('nan'), 'n': 0}
    return {'p50': float(np.percentile(a, 50)), 'p99': float(np.percentile(a, 99)), 'max': float(a.max()), 'n': int(a.size)}


def nodelay_for_handmade_sockets():
    "Make asyncio set TCP_NODELAY on accepted TCP sockets whose `proto` is 0 too (see `--sim-as-shipped`)."
    import asyncio.base_events, socket
    def set_nodelay(sock):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    asyncio.base_events._set_nodelay = set_nodelay


# ---- child process: the simulator's REST server (`--serve-sim nodelay|shipped`), until its stdin closes
async def serve_sim(mode: str):
    if mode == 'nodelay': nodelay_for_handmade_sockets()
    from tradebot.sim import MarketReplay, default_bars
    from tradebot.sim.rest import SimRest
    async with SimRest(api_keys={KEY: SECRET}, replay=MarketReplay(default_bars((SYMBOL,)))) as sim:
        print(f"url {sim.url}", flush=True)
        await asyncio.to_thread(sys.stdin.readline)


@contextlib.contextmanager
def simulator(mode: str='nodelay'):
    "A `serve_sim` child process; yields its REST URL."
    process = subprocess.Popen([sys.executable, __file__, '--serve-sim', mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line.startswith('url '): raise RuntimeError(f"simulator did not start: {line!r}")
        yield line.split()[1]
    finally:
        process.stdin.close(); process.wait(15)


@contextlib.contextmanager
def contender(kind: str):
    "One other CPU-bound process (a Python busy loop) while the block runs; nothing for 'none'."
    if kind == 'none': yield None; return
    process = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    time.sleep(0.5)                                   # let it get going
    try: yield process
    finally: process.kill(); process.wait()


def timed_journal(journal, marks: dict):
    "Wrap `journal.record_intent` and `journal.transition` (on the instance) to note when the intent and the ACKED row are committed."
    record_intent, transition = journal.record_intent, journal.transition
    def timed_record_intent(order):
        out = record_intent(order); marks['intent'] = time.perf_counter(); return out
    def timed_transition(link_id, state, *args, **fields):
        out = transition(link_id, state, *args, **fields)
        if state == 'ACKED': marks['ack'] = time.perf_counter()
        return out
    journal.record_intent, journal.transition = timed_record_intent, timed_transition


def timed_rest(rest, marks: dict):
    "Wrap `rest.create_order` (on the instance) to note its duration."
    create_order = rest.create_order
    async def timed_create_order(body, not_after=None):
        start = time.perf_counter()
        try: return await create_order(body, not_after)
        finally: marks['create'] = time.perf_counter() - start
    rest.create_order = timed_create_order


async def order_latencies(url: str, path: Path, synchronous: str, n_orders: int, warmup: int, profile: bool) -> dict:
    "Latencies (s) of `n_orders` placed one after the other through `OrderManager.place` against the simulator at `url`."
    from tradebot.live.exchange import OrderManager
    from tradebot.live.keys import Credentials
    from tradebot.live.orders import OrderJournal
    from tradebot.live.rest import BybitRest
    from tradebot.sim import MarketReplay, default_bars
    price = float(MarketReplay(default_bars((SYMBOL,))).price(SYMBOL, 0))   # the sim's price at its step 0 (notional check only)
    journal = OrderJournal(path, 'sim', synchronous=synchronous)   # a fresh file
    marks, out = {}, {'intent': [], 'ack': [], 'filled': [], 'create': []}
    async with BybitRest(url, Credentials('sim', KEY, SECRET)) as rest:
        await rest.sync_time()
        manager = OrderManager(journal, rest, await rest.instrument(CATEGORY, SYMBOL), run=f'bench{os.getpid() % 10_000}', lookup_delay=0.0)
        timed_journal(journal, marks); timed_rest(rest, marks)
        profiler = cProfile.Profile() if profile else None
        for i in range(warmup + n_orders):
            if i == warmup and profiler: profiler.enable()
            marks.clear()
            start = time.perf_counter()
            order = await manager.place('Buy' if i % 2 == 0 else 'Sell', QTY, price)
            end = time.perf_counter()
            if order is None or order.state != 'FILLED' or 'ack' not in marks: raise RuntimeError(f"order {i} not acked and filled: {order}")
            if i < warmup: continue
            out['intent'].append(marks['intent'] - start); out['ack'].append(marks['ack'] - start)
            out['filled'].append(end - start); out['create'].append(marks['create'])
        if profiler: profiler.disable(); out['profile'] = profiler
        reply, positions = await rest.positions(CATEGORY, SYMBOL)
        venue = sum((p.size if p.side == 'Buy' else -p.size for p in positions), Decimal(0))
        if not reply.ok or venue != journal.position(SYMBOL): raise RuntimeError(f"journal position {journal.position(SYMBOL)} != simulator's {venue}")
    journal.close()
    return out


def journal_writes(path: Path, synchronous: str, seconds: float) -> dict:
    "Transactions/s, orders/s and per-order write times of one filled order's 6 journal writes, back to back for `seconds`."
    from tradebot.bybit.private import order_link_id
    from tradebot.live.orders import OrderJournal, Order
    journal = OrderJournal(path, 'sim', synchronous=synchronous)   # a fresh file
    times, price, began = [], Decimal('30000.1'), time.perf_counter()
    while time.perf_counter() - began < seconds:
        start = time.perf_counter()
        link = order_link_id('sim', 'bench', journal.next_sequence())
        side = 'Buy' if len(times) % 2 == 0 else 'Sell'
        journal.record_intent(Order(link, SYMBOL, side, QTY))
        journal.transition(link, 'SENT', attempts=1)
        journal.transition(link, 'ACKED', order_id=f'id-{link}')
        journal.transition(link, 'FILLED', 'Filled', cum_exec_qty=QTY, avg_price=price)
        journal.add_execution(f'exec-{link}', link, SYMBOL, side, QTY, price, Decimal('0.0165'), int(time.time() * 1000))
        times.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    assert journal.position(SYMBOL) in (0, QTY) and len(journal.read('SELECT link_id FROM orders')) == len(times)
    journal.close()
    return {**percentiles(times), 'orders_s': len(times) / elapsed, 'tx_s': len(times) * WRITES_PER_ORDER / elapsed}


def fdatasync_times(path: Path, seconds: float) -> dict:
    "The disk's own pace: p50/p99 of a 4 KiB append + `os.fdatasync` (what each FULL commit waits for), and how many per second."
    times, block, began = [], b'x' * 4096, time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while time.perf_counter() - began < seconds:
            start = time.perf_counter(); os.write(fd, block); os.fdatasync(fd); times.append(time.perf_counter() - start)
    finally: os.close(fd)
    return {**percentiles(times), 'per_s': len(times) / (time.perf_counter() - began)}


def filesystem(path: Path) -> str:
    "The filesystem type and device `path` lives on (from /proc/mounts)."
    best = ('?', '?', '')
    for line in Path('/proc/mounts').read_text().splitlines():
        device, mount, kind = line.split()[:3]
        if str(path.resolve()).startswith(mount.rstrip('/') + '/') and len(mount) >= len(best[2]): best = (kind, device, mount)
    return f"{best[0]} ({best[1]} on {best[2]})"


def phase(load: str, args, folder: Path, rows: list):
    "All measurements once under `load`; appends the table rows."
    print(f"[{load}] load average {os.getloadavg()[0]:.2f}", flush=True)
    for synchronous in ('FULL', 'NORMAL'):
        with simulator() as url:
            result = asyncio.run(order_latencies(url, folder / f'orders-{synchronous}-{len(rows)}.sqlite', synchronous, args.orders, args.warmup, args.profile and synchronous == 'FULL'))
        label = '' if synchronous == 'FULL' else ' (info)'
        for key, name in (('intent', 'decision -> intent journalled'), ('ack', 'decision -> ack journalled'),
                          ('filled', 'decision -> FILLED (place returns)'), ('create', 'create round trip (info)')):
            if synchronous == 'NORMAL' and key in ('intent', 'create'): continue
            stats = percentiles(result[key])
            orders_s = stats['n'] / sum(result['filled']) if key == 'filled' else None
            rows.append((f"{name}, journal {synchronous}{label if key != 'create' else ''}", load, stats, orders_s, None))
        if 'profile' in result:
            text = io.StringIO(); pstats.Stats(result['profile'], stream=text).sort_stats('tottime').print_stats(20)
            print(f"[{load}] cProfile of the place loop, journal FULL, top 20 by own time:\n{text.getvalue()}", flush=True)
        print(f"[{load}] orders, journal {synchronous}: done", flush=True)
    disk = fdatasync_times(folder / f'fdatasync-{len(rows)}.bin', 1.0)
    rows.append(('4 KiB append + fdatasync, no SQLite (info)', load, disk, None, disk['per_s']))
    for synchronous in ('FULL', 'NORMAL'):
        stats = journal_writes(folder / f'writes-{synchronous}-{len(rows)}.sqlite', synchronous, args.journal_seconds)
        rows.append((f"journal writes, WAL synchronous={synchronous} (6 tx per order)", load, stats, stats['orders_s'], stats['tx_s']))
        print(f"[{load}] journal {synchronous}: {stats['tx_s']:,.0f} tx/s", flush=True)


def shipped(args, folder: Path, rows: list):
    "The info rows: the same order run (journal FULL) against the simulator without the TCP_NODELAY fix."
    with simulator('shipped') as url:
        result = asyncio.run(order_latencies(url, folder / 'orders-shipped.sqlite', 'FULL', args.shipped_orders, args.warmup, False))
    for key, name in (('ack', 'decision -> ack journalled'), ('filled', 'decision -> FILLED (place returns)'), ('create', 'create round trip')):
        stats = percentiles(result[key])
        rows.append((f"{name}, journal FULL, simulator as shipped (info)", 'idle', stats, stats['n'] / sum(result['filled']) if key == 'filled' else None, None))
    print("[idle] simulator as shipped: done", flush=True)


def table(rows: list) -> str:
    "The markdown table of the measured rows."
    number = lambda v, fmt: '' if v is None else format(v, fmt)
    lines = ['| measurement | load | n | p50 ms | p99 ms | max ms | orders/s | transactions/s |', '|---|---|---:|---:|---:|---:|---:|---:|']
    for name, load, s, orders_s, tx_s in rows:
        lines.append(f"| {name} | {load} | {s['n']:,} | {s['p50']:.2f} | {s['p99']:.2f} | {s['max']:.2f} | {number(orders_s, ',.0f')} | {number(tx_s, ',.0f')} |")
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--orders', type=int, default=500, help='orders timed per latency run')
    parser.add_argument('--warmup', type=int, default=20, help='orders placed first and not timed')
    parser.add_argument('--journal-seconds', type=float, default=3.0, help='seconds of journal writes per mode')
    parser.add_argument('--contender', choices=('busy', 'none'), default='busy', help='the other process of the contended rows')
    parser.add_argument('--profile', action='store_true', help='print a cProfile of the place loop (journal FULL)')
    parser.add_argument('--shipped-orders', type=int, default=100, help='orders of the idle info run against the simulator as shipped (0: skip)')
    parser.add_argument('--serve-sim', choices=('nodelay', 'shipped'), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sim: return asyncio.run(serve_sim(args.serve_sim))
    rows = []
    with tempfile.TemporaryDirectory(prefix='tradebot-live-orders-', dir='/tmp') as folder:
        folder = Path(folder)
        print(f"live orders benchmark: {args.orders} orders of {QTY} {SYMBOL} per run, {len(os.sched_getaffinity(0))} cores, "
              f"journal files in {folder} on {filesystem(folder)}", flush=True)
        phase('idle', args, folder, rows)
        if args.shipped_orders: shipped(args, folder, rows)
        if args.contender != 'none':
            with contender(args.contender): phase(f'contended ({args.contender})', args, folder, rows)
    print(table(rows), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
