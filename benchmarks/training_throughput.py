"""Training throughput and replay memory: tradebot's agents against stable-baselines3, same env, same hyperparameters.

    python benchmarks/training_throughput.py                 # full run (about 10 minutes on 2 cores)
    python benchmarks/training_throughput.py --sections contended --contended-threads 1
    python benchmarks/training_throughput.py --timesteps 5000 --threads 2 --sections idle

Env: `TradingEnv` on the embedded BTC-USD 1 h train split, configured by `load_config('dqn')` (window 50, 11 features:
observations of 553 float32). Throughput = environment steps per second of wall time over a whole training run of
`--timesteps` steps (learning_starts, exploration and gradient steps included), the same schedule for both.

Stock SB3 runs as its users run it: in a child process that loads torch before tradebot (`in_plain_process`), so its
OpenMP threads wait as libgomp's default has them; `import tradebot` makes them sleep soon, which would slow SB3 on 2
threads. Ours runs in this process, as configured. The rounds (`--repeats`) interleave ours and SB3, and besides each
contender's best round the table gives the median of the round-by-round ratios, which a drift of the machine's speed
moves less.

Each measurement is one function returning table rows (dicts); `SECTIONS` lists them and `main` prints one table.
Sections: DQN vs SB3 DQN (single env), replay memory vs SB3's ReplayBuffer, `LeanPPO` on VecTradingEnv(16) vs stock
SB3 PPO on DummyVecEnv(16 x TradingEnv) (and stock SB3 PPO on VecTradingEnv, for information). Then the contended
section: `tradebot train` for DQN (10k steps) and PPO (200k steps) alone, then two copies side by side, and the
slowdown factor (2x is proportional on 2 cores).
"""
from __future__ import annotations
import argparse, time, warnings
import numpy as np
import tradebot   # before torch: it lets torch's idle OpenMP threads sleep soon (GOMP_SPINCOUNT), read once when torch loads
import torch
from tradebot.config import load_config
from tradebot.features import load_market_data
from tradebot.env import TradingEnv

Row = dict  # {'measurement', 'ours', 'sb3', 'unit', 'ratio', 'target'}


def _dqn_setup(timesteps: int):
    cfg = load_config('dqn', overrides=[f'train.timesteps={timesteps}', 'train.device=cpu'])
    return cfg, load_market_data(cfg, 'train')


def _sb3_dqn(env, cfg, seed=0):
    "stable_baselines3.DQN with our hyperparameters mapped one to one."
    from stable_baselines3 import DQN
    a = cfg['agent']
    return DQN('MlpPolicy', env, learning_rate=a['learning_rate'], buffer_size=a['buffer_size'], learning_starts=a['learning_starts'],
               batch_size=a['batch_size'], tau=a['tau'], gamma=a['gamma'], train_freq=a['train_freq'], gradient_steps=1,
               target_update_interval=a['target_update_interval'], exploration_fraction=a['exploration_fraction'],
               exploration_initial_eps=a['epsilon_start'], exploration_final_eps=a['epsilon_end'], max_grad_norm=a['max_grad_norm'],
               policy_kwargs={'net_arch': list(a['hidden_sizes'])}, device='cpu', seed=seed, verbose=0)


def _warm_up(data, cfg) -> None:
    "One-time costs neither contender should be timed on: torch's lazy imports, the env's first steps (JIT, caches)."
    torch.optim.Adam(torch.nn.Linear(2, 2).parameters())   # the first optimizer imports torch._dynamo (~1.5 s)
    env = TradingEnv(data, config=cfg)
    env.reset(seed=0)
    for action in [0, 1, 2] * 100: env.step(action)


def in_plain_process(name: str, *args):
    """`name(*args)` of this module, run in a child process that loads torch before tradebot, without GOMP_SPINCOUNT: the
    OpenMP threads wait as libgomp's default has them (300,000 spins), as a user of stock SB3 gets them. `import tradebot`
    makes them sleep after 3,000 spins, which slows stock SB3 on 2 threads (PPO: 11-12k instead of 14k steps/s here)."""
    import json, os, subprocess, sys
    code = ("import json, sys, torch\n"                      # torch first: tradebot then leaves the spin count alone
            f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
            "import training_throughput as tt\n"
            f"print('RESULT ' + json.dumps(getattr(tt, {name!r})(*json.loads(sys.argv[1]))))")
    env = {k: v for k, v in os.environ.items() if k != 'GOMP_SPINCOUNT'}
    out = subprocess.run([sys.executable, '-c', code, json.dumps(args)], env=env, capture_output=True, text=True)
    if out.returncode: raise RuntimeError(f"{name}{args} in a plain process failed: {out.stderr[-800:]}")
    lines = out.stdout.splitlines()
    for line in lines:
        if not line.startswith('RESULT '): print(line, flush=True)
    return json.loads(next(line for line in lines if line.startswith('RESULT '))[len('RESULT '):])


def sb3_dqn_rates(timesteps: int, seed: int) -> list:
    "[(env steps/s, threads)] of stock SB3 DQN with 1 and with 2 torch threads (both timings include building the model)."
    cfg, data = _dqn_setup(timesteps)
    _warm_up(data, cfg)
    rates = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        _sb3_dqn(TradingEnv(data, config=cfg), cfg, seed=seed).learn(timesteps)
        rates.append((timesteps / (time.perf_counter() - start), threads))
        print(f"  sb3 ({threads} thread(s)): {rates[-1][0]:.0f} steps/s", flush=True)
    return rates


def dqn_throughput(args) -> list[Row]:
    "Env steps/s of a full DQN training run: ours vs SB3, single TradingEnv, same hyperparameters."
    from tradebot.dqn_fast import train_dqn_fast as train_dqn
    cfg, data = _dqn_setup(args.timesteps)
    _warm_up(data, cfg)
    one = load_config('dqn', overrides=[f'train.timesteps={args.timesteps}', 'train.device=cpu', 'agent.torch_threads=1', 'agent.update_threads=0'])
    ours, ours_one, sb3, pairs = [], [], [], []
    for rep in range(args.repeats):                      # interleaved, so load from other processes hits both alike
        for config, runs, label in ((cfg, ours, 'as configured'), (one, ours_one, '1 thread')):   # updates on 2 threads when spare, then 1 throughout
            start = time.perf_counter()
            train_dqn(TradingEnv(data, config=config), config, seed=rep, progress=False)
            runs.append(args.timesteps / (time.perf_counter() - start))
            print(f"  ours ({label}): {runs[-1]:.0f} steps/s", flush=True)
        rates = [tuple(r) for r in in_plain_process('sb3_dqn_rates', args.timesteps, rep)]   # stock SB3, 1 and 2 threads
        sb3 += rates; pairs.append(ours[-1] / max(rates)[0])
    ours_best, one_best, (sb3_best, sb3_threads) = max(ours), max(ours_one), max(sb3)
    sb3_one = max(v for v, n in sb3 if n == 1)
    rows = [{'measurement': f'DQN training, single env, as configured (updates on 2 thr when spare; SB3 best, {sb3_threads} thr)',
             'ours': ours_best, 'sb3': sb3_best, 'unit': 'env steps/s', 'ratio': ours_best / sb3_best, 'target': '>= 2x'},
            {'measurement': f'DQN, as configured: median of the {len(pairs)} rounds\' ratios (each vs SB3 best of its round)',
             'ours': float('nan'), 'sb3': float('nan'), 'unit': '', 'ratio': float(np.median(pairs)), 'target': '>= 2x'},
            {'measurement': f'DQN training, single env, ours on 1 thread (SB3 best, {sb3_threads} thr)', 'ours': one_best,
             'sb3': sb3_best, 'unit': 'env steps/s', 'ratio': one_best / sb3_best, 'target': '(info; see contended)'},
            {'measurement': 'DQN training, single env, both on 1 thread', 'ours': one_best,
             'sb3': sb3_one, 'unit': 'env steps/s', 'ratio': one_best / sb3_one, 'target': '(info)'}]
    if args.vec_envs > 1:
        from tradebot.vecenv import VecTradingEnv
        vcfg = load_config('dqn', overrides=[f'train.timesteps={args.timesteps}', 'train.device=cpu', f'agent.n_envs={args.vec_envs}'])
        start = time.perf_counter()
        train_dqn(VecTradingEnv(data, n_envs=args.vec_envs, config=vcfg), vcfg, seed=0, progress=False)
        vec = args.timesteps / (time.perf_counter() - start)
        rows.append({'measurement': f'DQN training, VecTradingEnv x{args.vec_envs} (ours only)', 'ours': vec, 'sb3': sb3_best,
                     'unit': 'env steps/s', 'ratio': vec / sb3_best, 'target': '(info)'})
    return rows


def dqn_replay_memory(args) -> list[Row]:
    "Replay memory per million transitions: our index buffer vs SB3's ReplayBuffer for the same observation shape."
    from stable_baselines3.common.buffers import ReplayBuffer
    from tradebot.dqn_fast import IndexReplayBuffer
    cfg, data = _dqn_setup(1000)
    env = TradingEnv(data, config=cfg)
    ours = IndexReplayBuffer(1000, data.features, env.params.window).bytes_per_transition()
    rows = []
    for optimize in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            buf = ReplayBuffer(1000, env.observation_space, env.action_space, device='cpu', n_envs=1,
                               optimize_memory_usage=optimize, handle_timeout_termination=not optimize)
        arrays = [buf.observations, buf.actions, buf.rewards, buf.dones] + ([] if optimize else [buf.next_observations, buf.timeouts])
        sb3 = sum(a.nbytes for a in arrays) / buf.buffer_size
        rows.append({'measurement': 'replay memory per 1M transitions' + (' (SB3 optimize_memory_usage)' if optimize else ''),
                     'ours': ours * 1e6 / 2**20, 'sb3': sb3 * 1e6 / 2**20, 'unit': 'MiB', 'ratio': sb3 / ours,
                     'target': '(info)' if optimize else '>= 100x smaller'})
    shared = data.features.nbytes / 2**20
    rows.append({'measurement': 'shared feature array (ours, once per run)', 'ours': shared, 'sb3': 0.0, 'unit': 'MiB', 'ratio': float('nan'), 'target': ''})
    return rows


# ---- PPO: LeanPPO on our vectorised env vs stock SB3 PPO on SB3's DummyVecEnv of single envs, same hyperparameters ----
# `train`: env steps/s of PPO.learn (rollouts + gradient updates); `rollout`: collect_rollouts alone (policy forward +
# env step + buffer); `env`: env.step alone with random actions. A third, informative contender, stock SB3 PPO on
# VecTradingEnv, separates what the env brings from what LeanPPO's loops bring.
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor
from tradebot.features import load_dataset
from tradebot.ppo import PPOConfig, build_ppo, make_ppo_env
from tradebot.ppo_fast import LeanPPO, build_lean_ppo


def _dummy_env(market, cfg, seed: int) -> VecMonitor:
    "16 single TradingEnv's in SB3's DummyVecEnv, same episode windows as `make_ppo_env`."
    hp = PPOConfig.from_config(cfg)
    options = {'random_start': True, 'episode_length': hp.episode_length} if hp.episode_length else {}
    envs = DummyVecEnv([lambda: TradingEnv(market, config=cfg, **options) for _ in range(hp.n_envs)])
    envs.seed(seed)
    return VecMonitor(envs)


class _Null(BaseCallback):
    def _on_step(self) -> bool: return True


def _measure(env, cfg, timesteps: int, algorithm: type, seed: int = 0) -> dict:
    "Steps/s of `algorithm`.learn and of its collect_rollouts alone on `env` (`build_ppo`: same hyperparameters and Adam)."
    hp = PPOConfig.from_config(cfg)
    model = build_lean_ppo(env, hp, seed, 'cpu') if algorithm is LeanPPO else build_ppo(env, hp, seed, 'cpu', algorithm=algorithm)
    model.learn(hp.n_envs * hp.n_steps)                      # warm-up: one rollout + update
    start = time.perf_counter(); model.learn(timesteps, reset_num_timesteps=False)
    train = model.num_timesteps - hp.n_envs * hp.n_steps
    train_s = time.perf_counter() - start
    callback = _Null(); callback.init_callback(model)
    rounds, start = 4, time.perf_counter()
    for _ in range(rounds): model.collect_rollouts(model.env, callback, model.rollout_buffer, hp.n_steps)
    rollout_s = time.perf_counter() - start
    return {'train_steps_per_s': train / train_s, 'rollout_steps_per_s': rounds * hp.n_envs * hp.n_steps / rollout_s,
            'env_steps_per_s': _env_only(env, hp.n_steps * rounds), 'train_steps': int(train), 'train_seconds': train_s}


def _env_only(env, rounds: int, seed: int = 0) -> float:
    "Steps/s of `env.step` alone with random actions (no policy, no buffer)."
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 3, (rounds, env.num_envs))
    env.reset(); start = time.perf_counter()
    for a in actions: env.step(a)
    return rounds * env.num_envs / (time.perf_counter() - start)


def _best_threads(measure, threads=(1, 2)) -> dict:
    "`measure()` under each torch thread count; the run with the highest training throughput, with its count."
    before, runs = torch.get_num_threads(), []
    try:
        for n in threads:
            torch.set_num_threads(n); runs.append({**measure(), 'threads': n})
            print(f"    {n} thread(s): {runs[-1]['train_steps_per_s']:.0f} steps/s", flush=True)
    finally: torch.set_num_threads(before)
    return max(runs, key=lambda run: run['train_steps_per_s'])


def sb3_ppo_rates(timesteps: int, n_envs: int, on_vec_env: bool) -> dict:
    "Stock SB3 PPO on DummyVecEnv(n x TradingEnv), or on VecTradingEnv: `_measure` under 1 and under 2 torch threads, the faster run."
    cfg = load_config('ppo', overrides=[f'agent.n_envs={n_envs}'])
    market = load_dataset(cfg).splits['train']
    make = make_ppo_env if on_vec_env else _dummy_env
    return _best_threads(lambda: _measure(make(market, cfg, 0), cfg, timesteps, PPO))


def measure_ppo(timesteps: int = 65_536, n_envs: int = 16, repeats: int = 2) -> dict:
    """{'ours': LeanPPO on VecTradingEnv, 'sb3': stock PPO on DummyVecEnv(TradingEnv x n), 'sb3_vec': stock PPO on VecTradingEnv,
    'ratios': ours / SB3 round by round}, each contender's best round.

    Ours runs as configured (configs/ppo.yaml: `num_threads` torch threads for rollouts, `update_threads` for updates), and
    with the other choice of update threads; stock SB3 runs in a plain process (`in_plain_process`) with 1 and with 2 torch
    threads and its faster run counts. The rounds interleave ours and SB3, so a drift of the machine's speed hits both."""
    cfg = load_config('ppo', overrides=[f'agent.n_envs={n_envs}'])
    market = load_dataset(cfg).splits['train']
    hp = PPOConfig.from_config(cfg)
    other_threads = 1 if hp.update_threads != 1 else 2   # the other choice of update threads
    other = load_config('ppo', overrides=[f'agent.n_envs={n_envs}', f'agent.update_threads={other_threads}'])
    ours, ours_other, sb3, ratios = [], [], [], []
    for _ in range(repeats):
        print("  LeanPPO, as configured:", flush=True)
        ours.append(_best_threads(lambda: _measure(make_ppo_env(market, cfg, 0), cfg, timesteps, LeanPPO), (hp.num_threads,)))
        print(f"  LeanPPO, update on {other_threads} thread(s):", flush=True)
        ours_other.append(_best_threads(lambda: _measure(make_ppo_env(market, other, 0), other, timesteps, LeanPPO),
                                        (PPOConfig.from_config(other).num_threads,)))
        print("  stock SB3 PPO on DummyVecEnv (plain process):", flush=True)
        sb3.append(in_plain_process('sb3_ppo_rates', timesteps, n_envs, False))
        ratios.append(ours[-1]['train_steps_per_s'] / sb3[-1]['train_steps_per_s'])
    print("  stock SB3 PPO on VecTradingEnv (plain process):", flush=True)
    sb3_vec = in_plain_process('sb3_ppo_rates', timesteps, n_envs, True)
    best = lambda runs: max(runs, key=lambda run: run['train_steps_per_s'])
    return {'ours': best(ours), 'ours_other': best(ours_other) | {'update_threads': other_threads}, 'sb3': best(sb3),
            'sb3_vec': sb3_vec, 'update_threads': hp.update_threads, 'ratios': ratios}


def ppo_throughput(args) -> list[Row]:
    "PPO training, rollout-only and env-only steps/s: LeanPPO on VecTradingEnv(16) vs SB3 PPO on DummyVecEnv(16 x TradingEnv)."
    m = measure_ppo(args.ppo_timesteps, repeats=args.repeats)
    ours, theirs, sb3_vec = m['ours'], m['sb3'], m['sb3_vec']
    names = {'train_steps_per_s': (f"PPO training (learn), 16 envs, as configured (update on {m['update_threads']} thr; SB3 best, {theirs['threads']} thr)", '>= 3x'),
             'rollout_steps_per_s': ('PPO collect_rollouts only, 16 envs', '(info)'),
             'env_steps_per_s': ('env.step only, 16 envs', '(info)')}
    rows = [{'measurement': name, 'ours': ours[key], 'sb3': theirs[key], 'unit': 'env steps/s', 'ratio': ours[key] / theirs[key],
             'target': target} for key, (name, target) in names.items()]
    other = m['ours_other']['train_steps_per_s']
    rows.insert(1, {'measurement': f"PPO training, ours with the update on {m['ours_other']['update_threads']} thr (SB3 best, {theirs['threads']} thr)",
                    'ours': other, 'sb3': theirs['train_steps_per_s'], 'unit': 'env steps/s', 'ratio': other / theirs['train_steps_per_s'],
                    'target': '(info; see contended)'})
    rows.insert(1, {'measurement': f"PPO, as configured: median of the {len(m['ratios'])} rounds' ratios (each vs SB3 best of its round)",
                    'ours': float('nan'), 'sb3': float('nan'), 'unit': '', 'ratio': float(np.median(m['ratios'])), 'target': '>= 3x'})
    rows.insert(3, {'measurement': 'PPO training, stock SB3 PPO on VecTradingEnv(16)', 'ours': sb3_vec['train_steps_per_s'],
                    'sb3': theirs['train_steps_per_s'], 'unit': 'env steps/s',
                    'ratio': sb3_vec['train_steps_per_s'] / theirs['train_steps_per_s'], 'target': '(info)'})
    return rows


SECTIONS = [dqn_throughput, dqn_replay_memory, ppo_throughput]   # one function per measurement


# ---- contended: the same training alone, then two copies side by side (users run notebooks, sweeps and the live
# server on the same cores). Whole `tradebot train` processes, wall time from start to exit (imports and run folder
# included), so the figure is what a user waits. A proportional slowdown on 2 cores is 2x; the target is <= 2.5x.
CONTENDED = {'dqn': ['--algo', 'dqn', '--timesteps', '10000'], 'ppo': ['--algo', 'ppo', '--timesteps', '200000']}
EXTRA_THREADS = {'dqn': ['agent.update_threads={n}'], 'ppo': ['agent.update_threads={n}']}   # the threads of the updates


def _train_processes(argv: list, copies: int) -> float:
    "Wall seconds until `copies` simultaneous `tradebot train` processes have all exited (each must succeed)."
    import subprocess, sys
    command = [sys.executable, '-m', 'tradebot', 'train', *argv]
    start = time.perf_counter()
    procs = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(copies)]
    errors = [p.communicate()[1] for p in procs]
    elapsed = time.perf_counter() - start
    for p, err in zip(procs, errors):
        if p.returncode: raise RuntimeError(f"{' '.join(command)} failed ({p.returncode}): {err.decode()[-500:]}")
    return elapsed


def contended(args) -> list[dict]:
    "Solo and side-by-side wall times of whole trainings, as configured and with each extra thread count asked for."
    rows = []
    for algo, argv in CONTENDED.items():
        for threads in [None, *args.contended_threads]:
            run = argv + [a.format(n=threads) for a in EXTRA_THREADS[algo]] if threads else argv
            _train_processes(run, 1)                                   # warm caches (numba, the processed dataset)
            solo = min(_train_processes(run, 1) for _ in range(args.repeats))
            pair = min(_train_processes(run, 2) for _ in range(args.repeats))
            label = f"{algo} {' '.join(argv[2:])} steps, {'as configured' if threads is None else f'updates on {threads} thread(s)'}"
            print(f"  {label}: alone {solo:.1f} s, two side by side {pair:.1f} s ({pair / solo:.2f}x)", flush=True)
            rows.append({'training': label, 'solo_s': solo, 'pair_s': pair, 'slowdown': pair / solo,
                         'target': '<= 2.5x' if threads is None else '(info)'})
    return rows


def print_contended(rows: list[dict]) -> None:
    head = f"{'contended: training (tradebot train, whole process)':58s} {'alone s':>9s} {'pair s':>9s} {'slowdown':>9s}  target"
    print(head); print('-' * len(head))
    for r in rows: print(f"{r['training']:58s} {r['solo_s']:9.1f} {r['pair_s']:9.1f} {r['slowdown']:8.2f}x  {r['target']}")


def print_table(rows: list[Row]) -> None:
    head = f"{'measurement':70s} {'ours':>12s} {'sb3':>12s}  {'unit':12s} {'ratio':>8s}  target"
    print(head); print('-' * len(head))
    for r in rows:
        ratio, ours, sb3 = ('' if v != v else f"{v:.1f}" for v in (r['ratio'], r['ours'], r['sb3']))   # nan: blank
        print(f"{r['measurement']:70s} {ours:>12s} {sb3:>12s}  {r['unit']:12s} {ratio + 'x' if ratio else '':>8s}  {r['target']}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--timesteps', type=int, default=20_000, help='env steps per training run')
    ap.add_argument('--repeats', type=int, default=2, help='runs per contender (best is reported)')
    ap.add_argument('--threads', type=int, default=1, help='torch intra-op threads outside the trainers (ours train as configured; SB3 runs with 1 and 2 threads, its best counts)')
    ap.add_argument('--ppo-timesteps', type=int, default=65_536, help='PPO env steps per measured run')
    ap.add_argument('--vec-envs', type=int, default=16, help='also time our DQN on a VecTradingEnv with this many envs (0: skip)')
    ap.add_argument('--contended-threads', type=int, nargs='*', default=[], help='contended section: also run with the updates on these thread counts (e.g. 1)')
    ap.add_argument('--sections', default='idle,contended', help='idle (vs SB3 on a quiet box), contended (alone vs two side by side), or both')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.timesteps} timesteps per run\n")
    rows, contended_rows, sections = [], [], args.sections.split(',')
    for section in SECTIONS if 'idle' in sections else []:
        print(f"running {section.__name__} ...", flush=True)
        rows += section(args)
    if 'contended' in sections:
        print("running contended ...", flush=True)
        contended_rows = contended(args)
    print()
    if rows: print_table(rows); print()
    if contended_rows: print_contended(contended_rows)
    return rows, contended_rows


if __name__ == '__main__':
    main()
