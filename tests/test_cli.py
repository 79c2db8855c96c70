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


def _cached_download(raw_dir: Path, name='BTC-USD_1d_yahoo_2021-01-01_2021-03-01.csv') -> Path:
    "A download already in the raw cache, so `download --source yahoo/bybit` runs offline (no network call)."
    from tradebot.data import load_embedded, save_raw
    return save_raw(load_embedded('BTC-USD', '1d').iloc[:60], raw_dir / name)


def test_dates_and_numbers_from_the_command_line(tmp_path):
    "`--start 2021-01-01` (a YAML date) and `--interval 60` (a YAML int) are text keys: they pass validation."
    cached = _cached_download(tmp_path)
    proc = tradebot('download', '--source', 'yahoo', '--interval', '1d', '--start', '2021-01-01', '--end', '2021-03-01',
                    f'data.raw_dir={tmp_path}')
    assert proc.returncode == 0 and 'data.start' not in proc.stderr, proc.stderr
    assert '60 bars' in proc.stdout and str(cached) in proc.stdout, proc.stdout
    cached = _cached_download(tmp_path, 'BTC-USD_60_bybit_linear_2021-01-01_2021-03-01.csv')
    proc = tradebot('download', '--source', 'bybit', '--interval', '60', '--start', '2021-01-01', 'data.end=2021-03-01',
                    f'data.raw_dir={tmp_path}')
    assert proc.returncode == 0 and 'data.interval' not in proc.stderr, proc.stderr
    assert str(cached) in proc.stdout, proc.stdout


def test_corrupt_raw_cache(tmp_path):
    "A damaged file in data/raw is a one-line error naming the file, line and column."
    cached = _cached_download(tmp_path)
    lines = cached.read_text().splitlines()
    lines[5] = lines[5].rsplit(',', 1)[0] + ',lots'  # the 5th bar's volume
    cached.write_text('\n'.join(lines) + '\n')
    proc = tradebot('download', '--source', 'yahoo', '--interval', '1d', '--start', '2021-01-01', '--end', '2021-03-01',
                    f'data.raw_dir={tmp_path}')
    assert_one_line_error(proc, str(cached), "line 6, column 'volume': 'lots' is not a number")


def test_preprocess_reads_what_train_reads(tmp_path):
    "After the user's CSV changes, preprocess reports the new file, not the copy `download` cached in data/raw."
    from tradebot.data import load_embedded, save_raw
    opts = [f'data.raw_dir={tmp_path}/raw', f'data.processed_dir={tmp_path}/processed', '--interval', '1d']
    mine = save_raw(load_embedded('ETH-USD', '1d').iloc[:400], tmp_path / 'mine.csv')
    assert tradebot('download', '--source', 'csv', mine, *opts).returncode == 0
    save_raw(load_embedded('ETH-USD', '1d').iloc[:600], mine)
    small = tradebot('preprocess', '--source', 'csv', mine, *opts)
    assert small.returncode == 0, small.stderr
    rows = int(small.stdout.split(' bars after the warm-up')[0].rsplit(' ', 1)[1])
    assert rows > 500, small.stdout  # 600 bars minus the warm-up, not 400


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
