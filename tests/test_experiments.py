"""Integration tests of the experiment commands that need subprocesses, papermill kernels or Ray.

- the quick pipeline, run twice from the command line with the same seeds, once one training after another and once
  two side by side in worker processes, gives byte-identical metrics.json (V5),
  a 95 % interval for every learning agent, and a report that names the split it read; `evaluate --split val`
  afterwards leaves the test evaluation byte-identical;
- the quick pipeline with 3 walk-forward folds: disjoint, chronological, out-of-sample folds, each scaled by a
  scaler fitted on its own training block;
- a 2 x 2 sweep through the papermill template gives four executed notebooks, named by their points, and one table
  of val metrics, in a local process pool and on a local Ray instance (C3, S1); no sweep run is evaluated on test,
  and no kernel warns about TCP without encryption.
"""
import json, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
ALGOS = ['buy_and_hold', 'dqn', 'ma_crossover', 'ppo', 'qlearning']


SEEDS = 3
LEARNING = ['dqn', 'ppo', 'qlearning']


def _tradebot(*args, timeout=900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'tradebot', *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _pipeline(runs_dir: Path, processed: Path, workers: int) -> subprocess.CompletedProcess:
    return _tradebot('pipeline', '--quick', '--no-progress', '--seeds', SEEDS, '--workers', workers, f'run.runs_dir={runs_dir}',
                     f'data.processed_dir={processed}')


def _metrics_by_run(runs_dir: Path) -> dict:
    "{(algo, seed): bytes of the run's test metrics.json}"
    out = {}
    for run in sorted(runs_dir.glob('*/run.json')):
        info = json.loads(run.read_text())
        out[info['algo'], info['seed']] = (run.parent/'eval'/'test'/'metrics.json').read_bytes()
    return out


def _files(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob('*')) if p.is_file()}


def test_pipeline_quick_is_reproducible(tmp_path):
    "Two quick pipelines with the same seeds, one run after another and two side by side: the same runs, byte-identical metrics.json, 95 % intervals, the split named."
    first, second = _pipeline(tmp_path/'a', tmp_path/'processed', 1), _pipeline(tmp_path/'b', tmp_path/'processed', 2)
    for proc in (first, second): assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'on 2 processes side by side' in second.stdout and 'side by side' not in first.stdout
    a, b = _metrics_by_run(tmp_path/'a'), _metrics_by_run(tmp_path/'b')
    assert sorted({algo for algo, _ in a}) == ALGOS and sorted(a) == sorted(b)
    assert all(len([1 for algo, _ in a if algo == name]) == SEEDS for name in LEARNING)
    for key in a: assert a[key] == b[key], key
    reports = list((tmp_path/'a'/'reports').glob('*/report.md'))
    assert len(reports) == 1 and 'report.md' in first.stdout
    table = pd.read_csv(reports[0].parent/'metrics.csv')
    assert sorted(set(table.algo)) == ALGOS and (table.split == 'test').all()
    summary = pd.read_csv(reports[0].parent/'summary.csv', index_col='algo')
    for algo in LEARNING:                                                     # a non-empty 95 % interval per learning agent
        assert summary.loc[algo, 'n_runs'] == SEEDS
        low, high = summary.loc[algo, 'total_return_ci_low'], summary.loc[algo, 'total_return_ci_high']
        assert np.isfinite(low) and np.isfinite(high) and low <= summary.loc[algo, 'total_return_mean'] <= high, algo
    text = reports[0].read_text()
    assert '## Setup' in text and 'evaluated on the **test** split' in text
    vs = pd.read_csv(reports[0].parent/'outperformance.csv', index_col='run')
    learning = vs[vs.algo.isin(LEARNING)]
    assert len(learning) == SEEDS * len(LEARNING)
    for column in ('time_in_market', 'mean_abs_exposure',                  # both exposure columns
                   'vs_benchmark_p_value', 'vs_benchmark_p_holm',         # buy & hold as run, raw and Holm-corrected
                   'vs_matched_p_value', 'vs_matched_p_holm'):            # exposure-matched buy & hold, raw and corrected
        assert column in vs.columns and learning[column].notna().all(), column
    for family in ('vs_benchmark', 'vs_matched'):                          # a correction never lowers a p-value
        assert (learning[f'{family}_p_holm'] >= learning[f'{family}_p_value'] - 1e-12).all(), family
    assert 'Holm' in text and 'time_in_market' in text and 'mean_abs_exposure' in text
    for proc in (first, second):                                          # a quiet CLI
        noise = (proc.stdout + proc.stderr).lower()
        assert 'gym has been unmaintained' not in noise and 'without encryption' not in noise


def test_evaluate_val_leaves_test_untouched(tmp_path):
    "`tradebot evaluate --split val` on a pipeline run writes eval/val/ and leaves every test file byte-identical."
    proc = _tradebot('pipeline', '--quick', '--no-progress', '--seeds', 1, f'run.runs_dir={tmp_path}/runs',
                     f'data.processed_dir={tmp_path}/processed', 'train.timesteps=2000')
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = next(p.parent for p in sorted((tmp_path/'runs').glob('*/run.json')) if json.loads(p.read_text())['algo'] == 'dqn')
    before, run_json = _files(run_dir/'eval'/'test'), (run_dir/'run.json').read_bytes()
    proc = _tradebot('evaluate', '--run-dir', run_dir, '--split', 'val')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _files(run_dir/'eval'/'test') == before and (run_dir/'run.json').read_bytes() == run_json
    assert (run_dir/'eval'/'val'/'metrics.json').is_file()
    assert sorted(p.name for p in (run_dir/'eval').iterdir()) == ['test', 'val']


def test_pipeline_walk_forward(tmp_path):
    "`run_pipeline(quick, walk_forward=3)`: folds disjoint, chronological, out of sample; each fold's scaler is its own train block's."
    from tradebot.experiments import experiment_config, run_pipeline, walk_forward_folds
    from tradebot.features import FeatureScaler
    overrides = [f'data.processed_dir={tmp_path}/processed', 'train.timesteps=2000']
    report = run_pipeline(overrides, quick=True, runs_dir=tmp_path/'runs', seeds=1, walk_forward=3, progress=False)
    folds = pd.read_csv(report.parent/'walk_forward_folds.csv')
    ranges = folds.drop_duplicates('fold').sort_values('fold')
    assert list(ranges.fold) == [1, 2, 3] and len(folds) == 3 * len(ALGOS) and sorted(set(folds.algo)) == ALGOS
    stamp = lambda col: pd.to_datetime(ranges[col]).tolist()
    for k in range(3):
        assert stamp('train_end')[k] < stamp('test_start')[k] <= stamp('test_end')[k]           # out of sample
        assert stamp('train_start')[k] == stamp('train_start')[0]                                 # anchored
        if k: assert stamp('test_end')[k - 1] < stamp('test_start')[k]                           # disjoint, chronological
    pooled = pd.read_csv(report.parent/'walk_forward_pooled.csv', index_col='algo')
    assert sorted(pooled.index) == ALGOS and (pooled.folds == 3).all()
    assert '## Walk-forward folds' in report.read_text() and '## Walk-forward pooled out of sample' in report.read_text()
    cfg = experiment_config('baselines', None, [*overrides, f'run.runs_dir={tmp_path}/runs'], quick=True)
    expected = {f['fold']: f['train'] for f in walk_forward_folds(cfg, 3)}
    fold_runs = sorted((tmp_path/'runs'/'walk-forward').glob('*/run.json'))
    assert len(fold_runs) == 3 * len(ALGOS)
    for run in fold_runs:                                                     # each fold's scaler: its own train block only
        fold = json.loads(run.read_text())['fold']
        scaler = FeatureScaler.load(run.parent/'scaler.json')
        train = expected[fold][scaler.feature_names].to_numpy()
        np.testing.assert_allclose(scaler.mean, train.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(scaler.std, np.maximum(train.std(axis=0), 1e-8), rtol=1e-12)


def _sweep(tmp_path, capfd, **kwargs) -> pd.DataFrame:
    from tradebot.experiments import parse_grid, sweep
    from tradebot.runs import read_metrics, read_run_info
    overrides = [f'run.runs_dir={tmp_path}/runs', f'data.processed_dir={tmp_path}/processed', 'train.timesteps=2000']
    table_path = sweep('qlearning', parse_grid(['seed=1,2', 'agent.alpha=0.1,0.2']), None, overrides, quick=True,
                       progress=False, **kwargs)
    assert table_path.name == 'sweep.csv' and table_path.parent.parent == tmp_path/'runs'/'sweeps'
    table = pd.read_csv(table_path)
    assert len(table) == 4 and list(zip(table.seed, table['agent.alpha'])) == [(1, 0.1), (1, 0.2), (2, 0.1), (2, 0.2)]
    assert (table.split == 'val').all()
    for _, row in table.iterrows():
        run_dir = Path(row['run_dir'])
        assert (run_dir/'train.ipynb').is_file(), run_dir
        assert run_dir.name.endswith(f"_qlearning_BTC-USD_seed={row['seed']}_agent.alpha={row['agent.alpha']}"), run_dir.name
        metrics = json.loads((run_dir/'eval'/'val'/'metrics.json').read_text())
        assert metrics['total_return'] == pytest.approx(row['total_return'], abs=1e-12)
        assert read_metrics(run_dir, 'val') == metrics
        # the test split is never evaluated: the only evaluation recorded in the run is val
        assert sorted(p.name for p in (run_dir/'eval').iterdir()) == ['val'] and read_run_info(run_dir)['split'] == 'val'
        config = (run_dir/'config.yaml').read_text()
        assert f"seed: {row['seed']}" in config and f"alpha: {row['agent.alpha']}" in config and 'eval_split: val' in config
    assert 'without encryption' not in capfd.readouterr().err.lower()   # the kernels' stderr reaches this process's fd 2
    return table


def test_sweep_local_pool(tmp_path, capfd):
    "2 x 2 grid in the local process pool: four executed notebooks and the combined table."
    _sweep(tmp_path, capfd, workers=2)


def test_sweep_ray(tmp_path, capfd):
    "The same grid on a local Ray instance, through the same API."
    ray = pytest.importorskip('ray')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try: table = _sweep(tmp_path, capfd, ray_address='local')
    finally: ray.shutdown()
    assert table['error'].isna().all() if 'error' in table else True
