"""The installed `tradebot` console script, as a user runs it: help, the data commands end to end, and one-line
errors with exit code 2 for bad input (never a traceback)."""
import os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = 'download preprocess train baselines evaluate pipeline sweep live sim dashboard users'.split()


def tradebot(*args, cwd=ROOT):
    exe = shutil.which('tradebot', path=str(Path(sys.executable).parent)) or 'tradebot'
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert 'Traceback' not in proc.stderr and len(err.splitlines()) == 1, err
    for word in words: assert word in err, err


def test_help_lists_every_subcommand():
    proc = tradebot('--help')
    assert proc.returncode == 0
    for name in SUBCOMMANDS: assert name in proc.stdout, name


def test_bad_config_key(tmp_path):
    assert_one_line_error(tradebot('preprocess', 'features.rsi_windw=3', f'data.raw_dir={tmp_path}'),
                          "unknown config key 'features.rsi_windw'")


def test_wrong_type_in_config_file(tmp_path):
    config = tmp_path / 'mine.yaml'
    config.write_text('env:\n  window: fifty\n')
    assert_one_line_error(tradebot('download', '--config', config), str(config), "'env.window' must be int")


def test_missing_files(tmp_path):
    assert_one_line_error(tradebot('download', '--config', tmp_path / 'nope.yaml'), 'nope.yaml', 'not found')
    assert_one_line_error(tradebot('download', '--source', 'csv', tmp_path / 'nope.csv', f'data.raw_dir={tmp_path}'),
                          'nope.csv')


def test_malformed_csv(tmp_path):
    bad = tmp_path / 'bars.csv'
    bad.write_text('timestamp,open,high,low,close,volume\n'
                   '2020-01-01T00:00:00Z,10,11,9,10.5,1\n'
                   '2020-01-01T01:00:00Z,10,9,11,10.5,1\n')  # high < low
    assert_one_line_error(tradebot('download', '--source', 'csv', bad, f'data.raw_dir={tmp_path}'), 'bars.csv', 'high < low')


def test_sample_download_and_preprocess(tmp_path):
    opts = [f'data.raw_dir={tmp_path}/raw', f'data.processed_dir={tmp_path}/processed']
    proc = tradebot('download', '--symbol', 'ETH-USD', '--source', 'sample', '--interval', '1d', *opts)
    assert proc.returncode == 0, proc.stderr
    raw = tmp_path / 'raw' / 'ETH-USD_1d_sample.csv'
    assert raw.exists() and len(raw.read_text().splitlines()) == 732  # header + 731 daily bars
    proc = tradebot('preprocess', '--symbol', 'ETH-USD', '--interval', '1d', *opts)
    assert proc.returncode == 0, proc.stderr
    for word in ('train', 'val', 'test', 'rsi', 'macd_hist', 'atr_pct'): assert word in proc.stdout, proc.stdout
    assert len(list((tmp_path / 'processed').glob('*/scaler.json'))) == 1


def test_python_dash_m_is_the_same_cli():
    proc = subprocess.run([sys.executable, '-m', 'tradebot', 'download', 'seeed=1'], capture_output=True, text=True, cwd=ROOT)
    assert_one_line_error(proc, "unknown config key 'seeed'")
