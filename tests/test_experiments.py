"""Integration tests of the experiment commands that need subprocesses, papermill kernels or Ray.

- the quick pipeline, run twice from the command line with the same seed, gives byte-identical metrics.json (V5);
- a 2 x 2 sweep through the papermill template gives four executed notebooks and one table, in a local process
  pool and on a local Ray instance (C3, S1).
"""
import json, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
ALGOS = ['buy_and_hold', 'dqn', 'ma_crossover', 'ppo', 'qlearning']


def _pipeline(runs_dir: Path, processed: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, '-m', 'tradebot', 'pipeline', '--quick', '--no-progress', f'run.runs_dir={runs_dir}',
           f'data.processed_dir={processed}']
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def _metrics_by_algo(runs_dir: Path) -> dict:
    out = {}
    for run in sorted(runs_dir.glob('*/run.json')):
        out[json.loads(run.read_text())['algo']] = (run.parent/'metrics.json').read_bytes()
    return out


def test_pipeline_quick_is_reproducible(tmp_path):
    "Two quick pipelines with the same seed: five runs each, a report, and byte-identical metrics.json files."
    first, second = _pipeline(tmp_path/'a', tmp_path/'processed'), _pipeline(tmp_path/'b', tmp_path/'processed')
    for proc in (first, second): assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = _metrics_by_algo(tmp_path/'a'), _metrics_by_algo(tmp_path/'b')
    assert sorted(a) == ALGOS and sorted(b) == ALGOS
    for algo in ALGOS: assert a[algo] == b[algo], algo
    reports = list((tmp_path/'a'/'reports').glob('*/report.md'))
    assert len(reports) == 1 and 'report.md' in first.stdout
    table = pd.read_csv(reports[0].parent/'metrics.csv')
    assert sorted(table.algo) == ALGOS


def _sweep(tmp_path, **kwargs) -> pd.DataFrame:
    from tradebot.experiments import parse_grid, sweep
    overrides = [f'run.runs_dir={tmp_path}/runs', f'data.processed_dir={tmp_path}/processed', 'train.timesteps=2000']
    table_path = sweep('qlearning', parse_grid(['seed=1,2', 'agent.alpha=0.1,0.2']), None, overrides, quick=True,
                       progress=False, **kwargs)
    assert table_path.name == 'sweep.csv' and table_path.parent.parent == tmp_path/'runs'/'sweeps'
    table = pd.read_csv(table_path)
    assert len(table) == 4 and list(zip(table.seed, table['agent.alpha'])) == [(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2)]
    for _, row in table.iterrows():
        run_dir = Path(row['run_dir'])
        assert (run_dir/'train.ipynb').is_file(), run_dir
        metrics = json.loads((run_dir/'metrics.json').read_text())
        assert metrics['total_return'] == pytest.approx(row['total_return'], abs=1e-12)
        config = (run_dir/'config.yaml').read_text()
        assert f"seed: {row['seed']}" in config and f"alpha: {row['agent.alpha']}" in config
    return table


def test_sweep_local_pool(tmp_path):
    "2 x 2 grid in the local process pool: four executed notebooks and the combined table."
    _sweep(tmp_path, workers=2)


def test_sweep_ray(tmp_path):
    "The same grid on a local Ray instance, through the same API."
    ray = pytest.importorskip('ray')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try: table = _sweep(tmp_path, ray_address='local')
    finally: ray.shutdown()
    assert table['error'].isna().all() if 'error' in table else True
