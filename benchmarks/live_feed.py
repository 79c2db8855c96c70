"""Live feed throughput: tradebot's FeedClient + PriceCache against pybit's WebSocket client, on the same frames.

    python benchmarks/live_feed.py [--frames 100000] [--skip-pybit]

1. raw ingest: `PriceCache.ingest` over recorded BTCUSDT + ETHUSDT ticker frames (a snapshot, then deltas),
   without a socket: ticks/s into the cache.
2. socket, tradebot: a simulator (`SimExchange`, in a child process) streams the same recorded frames over
   127.0.0.1 to tradebot's `FeedClient`, which parses, merges and validates each into a `PriceCache`.
3. socket, pybit: the same frames from a fresh simulator to pybit 5.17.0's `WebSocket.ticker_stream`, whose
   callback stores the merged ticker's prices as floats in a dict (its "cache").

For both socket runs the simulator writes every recorded frame, pre-framed, into the connection's transport right
after the client subscribed, and prints the time it did; the client notes when the last frame's prices are in its
cache: ticks/s = frames / (cache complete - send start). pybit lives in its own virtual environment,
benchmarks/.venv-peers, which this script creates on first use (`python -m venv` + `pip install pybit==5.17.0`);
it is never a tradebot dependency.
"""
from __future__ import annotations
import argparse, asyncio, json, os, subprocess, sys, tempfile, textwrap, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / '.venv-peers'
PYBIT = 'pybit==5.17.0'
SYMBOLS = ('BTCUSDT', 'ETHUSDT')


def record_frames(n_frames: int) -> list:
    "Encoded ticker frames of BTCUSDT and ETHUSDT, interleaved step by step, as one linear subscriber receives them."
    from tradebot.sim import MarketReplay, TickerStream, default_bars
    from tradebot.bybit import encode
    replay = MarketReplay(default_bars(SYMBOLS), start=1000)
    streams, out, step = {s: TickerStream(s) for s in SYMBOLS}, [], 0
    while len(out) < n_frames:
        for symbol in SYMBOLS:
            state = replay.ticker(symbol, step)
            frame = None if state is None else streams[symbol].frame(state, step, replay.ts(step))
            if frame is not None: out.append(encode(frame))
        step += 1
    return out


def final_cs(frames: list) -> dict:
    "The cross sequence of each symbol's last frame."
    last = {}
    for text in frames:
        obj = json.loads(text); last[obj['data']['symbol']] = obj['cs']
    return last


def last_cs(cache, symbol: str):
    "The cross sequence of `symbol`'s last accepted tick in a PriceCache (None before any)."
    quote = cache.quote(symbol) if hasattr(cache, 'quote') else cache.quotes.get(symbol)  # FEED_API's quote(), or the dict
    return None if quote is None or quote.cs < 0 else quote.cs


def raw_ingest_rate(frames: list, repeats: int = 3) -> float:
    "Ticks/s of `PriceCache.ingest` over `frames` (best of `repeats` fresh caches)."
    from tradebot.live.prices import PriceCache
    best = 0.0
    for _ in range(repeats):
        cache = PriceCache(SYMBOLS)
        start = time.perf_counter()
        for text in frames: cache.ingest(text)
        best = max(best, len(frames) / (time.perf_counter() - start))
        assert all(last_cs(cache, s) is not None for s in SYMBOLS), cache.rejected
    return best


# ---- the simulator side, run in a child process: `python live_feed.py --serve FRAMES_FILE`
async def serve(frames_file: str):
    "Start a simulator; once a client subscribed to both tickers, write every frame to it; print port and send time."
    from websockets.frames import Frame, Opcode
    from tradebot.sim import MarketReplay, SimExchange, default_bars
    texts = Path(frames_file).read_text().splitlines()
    blob = b''.join(Frame(Opcode.TEXT, t.encode()).serialize(mask=False) for t in texts)
    async with SimExchange(MarketReplay(default_bars(SYMBOLS), start=1000), speed=0.0) as sim:
        print(f"port {sim.port}", flush=True)
        wanted = {f'tickers.{s}' for s in SYMBOLS}
        while True:  # a client that reconnects early (pybit may) is waited for again
            connection = next((c for c, sub in sim.subscribers.items() if wanted <= set(sub.topics)), None)
            await asyncio.sleep(0.001 if connection is None else 0.05)  # the ack and the first snapshot go first
            if connection in sim.subscribers: break
        print(f"sent {time.time()!r}", flush=True)
        connection.transport.write(blob)
        while connection in sim.subscribers: await asyncio.sleep(0.01)


class Simulator:
    "A `serve` child process; `port` once it listens, `sent()` the time it wrote the frames."
    def __init__(self, frames_file: Path):
        self.process = subprocess.Popen([sys.executable, __file__, '--serve', str(frames_file)], stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline().split()[1])

    def sent(self) -> float: return float(self.process.stdout.readline().split()[1])

    def close(self):
        self.process.terminate(); self.process.wait(10)


async def tradebot_client(port: int, final: dict, timeout: float) -> float:
    "Connect tradebot's feed; return the wall time at which every symbol's last frame is in the cache."
    from tradebot.live.prices import PriceCache
    from tradebot.live.feed import FeedClient
    cache = PriceCache(SYMBOLS)
    feed = FeedClient(f"ws://127.0.0.1:{port}/v5/public/linear", cache, ping_interval=60.0, idle_timeout=120.0, pong_timeout=60.0)
    ends = time.monotonic() + timeout
    async with feed:
        while not all(last_cs(cache, s) == final[s] for s in SYMBOLS):
            if time.monotonic() > ends: raise TimeoutError(f"tradebot feed: incomplete after {timeout} s: {feed.health()}")
            await asyncio.sleep(0.001)
        return time.time()


PYBIT_CLIENT = textwrap.dedent('''
    import json, sys, time, threading
    import pybit.unified_trading as ut
    port, last_cs, timeout = int(sys.argv[1]), json.loads(sys.argv[2]), float(sys.argv[3])
    ut.PUBLIC_WSS = f"ws://127.0.0.1:{port}/v5/public/{{CHANNEL_TYPE}}"
    cache, done = {}, threading.Event()
    def on_ticker(message):
        data = message["data"]
        cache[data["symbol"]] = (float(data["lastPrice"]), float(data["bid1Price"]), float(data["ask1Price"]),
                                 float(data["markPrice"]), message["ts"], message["cs"])
        if all(cache.get(s, (0,) * 6)[5] == cs for s, cs in last_cs.items()): done.set()
    ws = ut.WebSocket(testnet=False, channel_type="linear", ping_interval=60, ping_timeout=50)
    ws.ticker_stream(symbol=list(last_cs), callback=on_ticker)
    ok = done.wait(timeout)
    print(json.dumps({"done": ok, "t": time.time()}), flush=True)
    ws.exit()
''')


def ensure_peer_venv() -> Path:
    "benchmarks/.venv-peers with pybit 5.17.0 (created on first use); its python."
    python = PEER_VENV / 'bin' / 'python'
    if not python.exists(): subprocess.run([sys.executable, '-m', 'venv', str(PEER_VENV)], check=True)
    check = subprocess.run([str(python), '-c', 'import pybit, importlib.metadata as m; print(m.version("pybit"))'], capture_output=True, text=True)
    if check.stdout.strip() != PYBIT.split('==')[1]:
        subprocess.run([str(python), '-m', 'pip', 'install', '-q', PYBIT], check=True)
    return python


def pybit_client(python: Path, port: int, final: dict, timeout: float) -> float:
    "Run pybit's client in the peer environment; the wall time its cache was complete."
    out = subprocess.run([str(python), '-c', PYBIT_CLIENT, str(port), json.dumps(final), str(timeout)],
                         capture_output=True, text=True, timeout=timeout + 30)
    result = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
    if not result.get('done'): raise RuntimeError(f"pybit client did not finish: {out.stdout[-500:]} {out.stderr[-2000:]}")
    return result['t']


def socket_rate(frames_file: Path, n: int, client) -> float:
    "Ticks/s into `client`'s cache: `client(port)` returns the wall time it was complete."
    sim = Simulator(frames_file)
    try:
        done = client(sim.port)
        return n / (done - sim.sent())
    finally: sim.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=100_000, help='recorded ticker frames (both symbols together)')
    parser.add_argument('--timeout', type=float, default=120.0, help='seconds a socket run may take')
    parser.add_argument('--skip-pybit', action='store_true', help='do not create or run the pybit peer')
    parser.add_argument('--serve', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve: return asyncio.run(serve(args.serve))
    cores = len(os.sched_getaffinity(0))
    print(f"live feed benchmark: {args.frames:,} recorded ticker frames (BTCUSDT + ETHUSDT), {cores} cores", flush=True)
    frames = record_frames(args.frames)
    final = final_cs(frames)
    print(f"raw ingest (PriceCache.ingest, no socket): {raw_ingest_rate(frames):>12,.0f} ticks/s  (target >= 200,000)", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        frames_file = Path(folder) / 'frames.txt'
        frames_file.write_text('\n'.join(frames))
        ours = socket_rate(frames_file, len(frames), lambda port: asyncio.run(tradebot_client(port, final, args.timeout)))
        print(f"socket, tradebot FeedClient -> PriceCache:  {ours:>12,.0f} ticks/s", flush=True)
        if args.skip_pybit: return 0
        python = ensure_peer_venv()
        theirs = socket_rate(frames_file, len(frames), lambda port: pybit_client(python, port, final, args.timeout))
        print(f"socket, pybit {PYBIT.split('==')[1]} WebSocket -> dict:      {theirs:>12,.0f} ticks/s", flush=True)
        print(f"ratio tradebot / pybit: {ours / theirs:.2f}x  (target >= 3x)", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
