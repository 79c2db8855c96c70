"""Simulator throughput: how fast the local Bybit exchange produces frames, and how fast it pushes them over loopback.

    python benchmarks/sim_throughput.py [--steps 4000] [--frames 50000]

1. core: steps of the replay turned into ticker + kline frames and encoded for one linear subscriber of BTCUSDT and
   ETHUSDT (`MarketReplay.frames` + `Subscriber.outgoing`), no socket: frames per second.
2. socket: recorded BTCUSDT ticker frames (a snapshot then deltas) sent by `SimExchange.broadcast` to one plain
   `websockets` client on 127.0.0.1, which only counts them: messages per second received.

The second number is the ceiling a feed benchmark over loopback can see from this server on this machine.
"""
from __future__ import annotations
import argparse, asyncio, time
import websockets
from tradebot.sim import MarketReplay, SimExchange, Subscriber, Faults, default_bars, recorded_ticker_frames


def core_rate(replay: MarketReplay, steps: int) -> float:
    "Frames per second produced and encoded for one subscriber of two tickers and two klines."
    sub, faults = Subscriber(topics=['tickers.BTCUSDT', 'tickers.ETHUSDT', 'kline.60.BTCUSDT', 'kline.60.ETHUSDT']), Faults()
    count, start = 0, time.perf_counter()
    for step in range(steps): count += len(sub.outgoing(replay.frames(step, sub.topics, sub.streams), faults))
    return count / (time.perf_counter() - start)


async def socket_rate(replay: MarketReplay, frames: int) -> float:
    "Messages per second a plain websockets client receives from `broadcast` over loopback."
    texts = recorded_ticker_frames(replay, 'BTCUSDT', frames)
    async with SimExchange(replay, speed=0.0) as sim, websockets.connect(sim.ws_url(), max_queue=None) as ws:
        await ws.send('{"op":"ping"}'); await ws.recv()
        async def receive():
            for _ in range(len(texts)): await ws.recv()
        start = time.perf_counter()
        await asyncio.gather(sim.broadcast(texts), receive())
        return len(texts) / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=4000)
    parser.add_argument('--frames', type=int, default=50000)
    args = parser.parse_args(argv)
    replay = MarketReplay(default_bars(), start='2019-01-01', ticks_per_bar=20)
    print(f"core:   {core_rate(replay, args.steps):>10,.0f} frames/s (2 tickers + 2 klines, encoded, no socket)")
    print(f"socket: {asyncio.run(socket_rate(replay, args.frames)):>10,.0f} messages/s (recorded tickers over loopback)")


if __name__ == '__main__': main()
