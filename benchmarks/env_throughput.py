"""Environment throughput: tradebot's TradingEnv / VecTradingEnv against gym-anytrading and gym-trading-env.

    python benchmarks/env_throughput.py [--seconds 2]

Everything is measured in one run, on the same prices: the embedded BTC-USD 1 h train split, window 50, random
actions drawn before timing, episodes reset when they end. The peer environments are installed by this script into
their own virtualenv (benchmarks/.venv-peers, git-ignored; they are not tradebot dependencies) and measured there
in a subprocess that reads the prices from a temporary .npz file.
"""
from __future__ import annotations
import argparse, json, os, subprocess, sys, tempfile, time, venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / '.venv-peers'
PEERS = ['gym-anytrading==2.0.0', 'gym-trading-env==0.3.5']
WINDOW, VEC_SIZES = 50, (1, 16, 64, 256)


def rate(step, reset, seconds: float) -> float:
    "Steps per second of `step()` (which returns (n_steps, done)) over about `seconds`, after a short warm-up."
    reset()
    for _ in range(200):
        if step()[1]: reset()
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(500):
            n, done = step()
            count += n
            if done: reset()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds: return count / elapsed


# ---- peers (run inside the peer virtualenv) ----------------------------------------------------------------------
def measure_peers(npz_path: str, seconds: float) -> dict:
    import numpy as np, pandas as pd
    z = np.load(npz_path)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, 1 << 20)
    results = {}

    from gym_anytrading.envs import StocksEnv
    df = pd.DataFrame({'Open': z['open'], 'High': z['high'], 'Low': z['low'], 'Close': z['close']})
    env = StocksEnv(df=df, window_size=WINDOW, frame_bound=(WINDOW, len(df)))
    i = [0]
    def step():
        i[0] += 1
        _, _, terminated, truncated, _ = env.step(int(actions[i[0] & 0xFFFFF]))
        return 1, terminated or truncated
    results['gym-anytrading 2.0.0'] = rate(step, lambda: env.reset(seed=0), seconds)

    from gym_trading_env.environments import TradingEnv
    frame = pd.DataFrame({'open': z['open'], 'high': z['high'], 'low': z['low'], 'close': z['close'],
                          **{f'feature_{k}': z['features'][:, k] for k in range(z['features'].shape[1])}},
                         index=pd.to_datetime(z['timestamps']))  # tz-naive UTC
    env2 = TradingEnv(df=frame, positions=[0, 1], windows=WINDOW, trading_fees=0.001, verbose=0, render_mode=None)
    def step2():
        i[0] += 1
        _, _, terminated, truncated, _ = env2.step(int(actions[i[0] & 0xFFFFF]))
        return 1, terminated or truncated
    results['gym-trading-env 0.3.5'] = rate(step2, lambda: env2.reset(seed=0), seconds)
    return results


def peer_python() -> Path:
    "The peer virtualenv's python, created and filled on first use."
    python = PEER_VENV / 'bin' / 'python'
    check = [str(python), '-c', 'import gym_anytrading, gym_trading_env']
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0: return python
    print(f'installing {", ".join(PEERS)} into {PEER_VENV} ...', file=sys.stderr)
    venv.create(PEER_VENV, with_pip=True, clear=True)
    subprocess.run([str(python), '-m', 'pip', 'install', '-q', *PEERS], check=True)
    subprocess.run(check, check=True)
    return python


# ---- tradebot (run in the project environment) -------------------------------------------------------------------
def measure_tradebot(data, seconds: float) -> dict:
    import numpy as np
    from tradebot.env import TradingEnv
    from tradebot.vecenv import VecTradingEnv
    rng = np.random.default_rng(0)
    results = {}
    env = TradingEnv(data, window=WINDOW)
    actions, i = rng.integers(0, 3, 1 << 20), [0]
    def step():
        i[0] += 1
        _, _, terminated, truncated, _ = env.step(actions[i[0] & 0xFFFFF])
        return 1, terminated or truncated
    results['tradebot TradingEnv'] = rate(step, lambda: env.reset(seed=0), seconds)
    for n in VEC_SIZES:
        venv_ = VecTradingEnv(data, n, seed=0, window=WINDOW)
        batches = rng.integers(0, 3, (4096, n))
        def vstep(venv_=venv_, batches=batches, n=n):
            i[0] += 1
            venv_.step(batches[i[0] & 4095])
            return n, False                                    # VecEnv resets finished episodes itself
        results[f'tradebot VecTradingEnv N={n}'] = rate(vstep, venv_.reset, seconds)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=2.0, help='timing per environment')
    parser.add_argument('--peer-npz', help=argparse.SUPPRESS)   # internal: run the peer measurements
    args = parser.parse_args()
    if args.peer_npz:
        print(json.dumps(measure_peers(args.peer_npz, args.seconds))); return

    import numpy as np
    from tradebot.config import load_config
    from tradebot.features import load_market_data
    data = load_market_data(load_config(), 'train')
    python = peer_python()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / 'prices.npz'
        np.savez(npz, open=data.open, high=data.high, low=data.low, close=data.close, features=data.features,
                 timestamps=data.timestamps)
        peer_run = subprocess.run([str(python), str(Path(__file__).resolve()), '--peer-npz', str(npz), '--seconds', str(args.seconds)],
                                  capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
        if peer_run.returncode: sys.exit(f'peer benchmark failed:\n{peer_run.stderr}')
        peers = json.loads(peer_run.stdout.strip().splitlines()[-1])
    ours = measure_tradebot(data, args.seconds)

    anytrading, tradingenv = peers['gym-anytrading 2.0.0'], peers['gym-trading-env 0.3.5']
    print(f'# {data.symbol} {data.split}: {len(data)} bars, {data.features.shape[1]} features, window {WINDOW}, '
          f'random actions, {os.cpu_count()} CPU(s)')
    print(f"| {'environment':32s} | {'steps/s':>12s} | {'vs gym-anytrading':>17s} | {'vs gym-trading-env':>18s} |")
    print(f"|{'-' * 34}|{'-' * 13}:|{'-' * 18}:|{'-' * 19}:|")
    for name, value in {**peers, **ours}.items():
        print(f'| {name:32s} | {value:12,.0f} | {value / anytrading:16.2f}x | {value / tradingenv:17.2f}x |')
    single, vec64 = ours['tradebot TradingEnv'], ours['tradebot VecTradingEnv N=64']
    print(f"\ntargets: single >= gym-anytrading: {'yes' if single >= anytrading else 'NO'}; "
          f"single >= 5x gym-trading-env: {'yes' if single >= 5 * tradingenv else 'NO'}; "
          f"VecTradingEnv N=64 >= 1,000,000 steps/s: {'yes' if vec64 >= 1e6 else 'NO'}")


if __name__ == '__main__':
    main()
