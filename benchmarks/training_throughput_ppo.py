"""PPO training throughput: tradebot's vectorised env vs SB3's DummyVecEnv of single TradingEnv's.

Both sides train the same SB3 PPO (hyperparameters of configs/ppo.yaml, N = 16 episodes, random 2048-bar windows
of the embedded BTC-USD 1h train split) for the same number of steps, on the CPU with one torch thread. Two numbers
per env:

- `train`: environment steps per second of `PPO.learn` (rollouts + gradient updates): what a user waits for.
- `rollout`: steps per second of `collect_rollouts` alone (policy forward + env step + buffer), the part the env
  implementation can change; the gradient updates cost the same on both sides.
- `env`: steps per second of `env.step` alone with random actions (no policy): the env implementations by themselves.

    python benchmarks/training_throughput_ppo.py [--timesteps 65536]
"""
from __future__ import annotations
import argparse, time
import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor
from tradebot.config import load_config
from tradebot.env import TradingEnv
from tradebot.features import load_dataset
from tradebot.ppo import PPOConfig, build_ppo, make_ppo_env


def _dummy_env(market, cfg, seed: int) -> VecMonitor:
    "16 single TradingEnv's in SB3's DummyVecEnv, same episode windows as `make_ppo_env`."
    hp = PPOConfig.from_config(cfg)
    options = {'random_start': True, 'episode_length': hp.episode_length} if hp.episode_length else {}
    envs = DummyVecEnv([lambda: TradingEnv(market, config=cfg, **options) for _ in range(hp.n_envs)])
    envs.seed(seed)
    return VecMonitor(envs)


class _Null(BaseCallback):
    def _on_step(self) -> bool: return True


def _measure(env, cfg, timesteps: int, seed: int = 0) -> dict:
    "Steps/s of PPO.learn and of collect_rollouts alone on `env`."
    hp = PPOConfig.from_config(cfg)
    model = build_ppo(env, hp, seed, 'cpu')
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


def measure_ppo(timesteps: int = 65_536, n_envs: int = 16) -> list[dict]:
    "Rows: PPO training throughput on VecTradingEnv and on DummyVecEnv(TradingEnv × n_envs), plus their ratio."
    cfg = load_config('ppo', overrides=[f'agent.n_envs={n_envs}'])
    market = load_dataset(cfg).splits['train']
    threads = torch.get_num_threads(); torch.set_num_threads(PPOConfig.from_config(cfg).num_threads)
    try:
        ours = _measure(make_ppo_env(market, cfg, 0), cfg, timesteps)
        theirs = _measure(_dummy_env(market, cfg, 0), cfg, timesteps)
    finally: torch.set_num_threads(threads)
    rows = [{'benchmark': 'ppo', 'env': f'VecTradingEnv(n_envs={n_envs})', **ours},
            {'benchmark': 'ppo', 'env': f'DummyVecEnv({n_envs} x TradingEnv)', **theirs}]
    rows.append({'benchmark': 'ppo', 'env': 'speed-up (ours / DummyVecEnv)',
                 'train_steps_per_s': ours['train_steps_per_s'] / theirs['train_steps_per_s'],
                 'rollout_steps_per_s': ours['rollout_steps_per_s'] / theirs['rollout_steps_per_s'],
                 'env_steps_per_s': ours['env_steps_per_s'] / theirs['env_steps_per_s']})
    return rows


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--timesteps', type=int, default=65_536)
    args = parser.parse_args()
    for row in measure_ppo(args.timesteps):
        print('  '.join(f'{k}={v:.1f}' if isinstance(v, float) else f'{k}={v}' for k, v in row.items()))
