"""The installed `tradebot` console script, as a user runs it: help, the data commands end to end, a user's own CSV
(every supported layout) flowing through by symbol, and one-line errors with exit code 2 for bad input (never a
traceback)."""
import json, socket, os, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBCOMMANDS = 'download preprocess train baselines evaluate pipeline sweep live sim prices keys dashboard users'.split()


def tradebot(*args, cwd=ROOT, home=None):
    "Run the installed console script in `cwd`; `home` sets TRADEBOT_HOME (unset by default)."
    exe = shutil.which('tradebot', path=str(Path(sys.executable).parent)) or 'tradebot'
    env = {k: v for k, v in os.environ.items() if k != 'TRADEBOT_HOME'} | ({'TRADEBOT_HOME': str(home)} if home else {})
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300, env=env)


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


def _cached_download(raw_dir: Path, name='BTC-USD_1d_yahoo_2021-01-01_2021-03-01.csv', interval='1d') -> Path:
    "A download already in the raw cache, so `download --source yahoo/bybit` runs offline (no network call)."
    from tradebot.data import load_embedded, save_raw
    return save_raw(load_embedded('BTC-USD', interval).iloc[:60], raw_dir / name)


def test_dates_and_numbers_from_the_command_line(tmp_path):
    "`--start 2021-01-01` (a YAML date) and `--interval 60` (a YAML int) are text keys: they pass validation."
    cached = _cached_download(tmp_path)
    proc = tradebot('download', '--source', 'yahoo', '--interval', '1d', '--start', '2021-01-01', '--end', '2021-03-01',
                    f'data.raw_dir={tmp_path}')
    assert proc.returncode == 0 and 'data.start' not in proc.stderr, proc.stderr
    assert '60 bars' in proc.stdout and str(cached) in proc.stdout, proc.stdout
    cached = _cached_download(tmp_path, 'BTC-USD_60_bybit_linear_2021-01-01_2021-03-01.csv', '1h')
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
    raw = tmp_path / 'raw' / 'ETH-USD_1d.csv'
    assert raw.exists() and len(raw.read_text().splitlines()) == 732  # header + 731 daily bars
    assert json.loads(raw.with_suffix('.json').read_text())['source'] == "sample"
    proc = tradebot('preprocess', '--symbol', 'ETH-USD', '--interval', '1d', *opts)
    assert proc.returncode == 0, proc.stderr
    for word in ('train', 'val', 'test', 'rsi', 'macd_hist', 'atr_pct'): assert word in proc.stdout, proc.stdout
    assert len(list((tmp_path / 'processed').glob('*/scaler.json'))) == 1


def test_python_dash_m_is_the_same_cli():
    proc = subprocess.run([sys.executable, '-m', 'tradebot', 'download', 'seeed=1'], capture_output=True, text=True, cwd=ROOT)
    assert_one_line_error(proc, "unknown config key 'seeed'")


def test_dashboard_and_users_commands(tmp_path):
    helped = tradebot('dashboard', '--help')
    assert helped.returncode == 0 and '--demo' in helped.stdout and '--backend' in helped.stdout, helped.stdout
    users = tmp_path/'users.json'
    exe = shutil.which('tradebot', path=str(Path(sys.executable).parent)) or 'tradebot'
    added = subprocess.run([exe, 'users', 'add', 'alice', '--password-stdin', '--file', str(users)], input='a long password\n',
                           capture_output=True, text=True, timeout=120)
    assert added.returncode == 0 and 'a long password' not in users.read_text() + added.stdout + added.stderr, added
    assert tradebot('users', 'list', '--file', users).stdout.split() == ['alice']
    refused = tradebot('users', 'add', 'bad name!', '--password-stdin', '--file', users)
    assert refused.returncode != 0 and 'Traceback' not in refused.stderr and 'user name' in refused.stderr, refused


def test_pipeline_flags_in_help():
    proc = tradebot('pipeline', '--help')
    assert '--walk-forward' in proc.stdout and '(default 3)' in proc.stdout, proc.stdout
    for name in ('preprocess', 'train', 'baselines', 'pipeline', 'sweep'): assert '--source' in tradebot(name, '--help').stdout, name


# A user's own data: 500 synthetic daily bars, written in every CSV layout tradebot reads.
DAILY = []


def _daily_bars() -> pd.DataFrame:
    if not DAILY:
        from tradebot.features import synthetic_ohlcv
        DAILY.append(synthetic_ohlcv(500, seed=3, drift=0.001, vol=0.03, freq='D'))
    return DAILY[0]


def _rows(bars, stamp, order, newest_first=False) -> list:
    "One CSV line per bar: the timestamp as `stamp` writes it, then the columns in `order`."
    lines = [','.join([stamp(t), *(repr(float(row[c])) for c in order)]) for t, row in bars.iterrows()]
    return lines[::-1] if newest_first else lines


def _layouts(bars) -> dict:
    "{file name: text} for every supported CSV layout of `bars`."
    ms, sec = (lambda t: str(t.value // 10**6)), (lambda t: str(t.value // 10**9))
    day, iso = (lambda t: t.strftime('%Y-%m-%d')), (lambda t: t.strftime('%Y-%m-%dT%H:%M:%SZ'))
    cdd = lambda t: f"{ms(t)},{t.strftime('%Y-%m-%d %H:%M:%S')},SOL/USDT"
    bars = bars.assign(adj=bars.close, turnover=bars.close * bars.volume)
    ohlcv, bybit = ['open', 'high', 'low', 'close', 'volume'], ['open', 'high', 'low', 'close', 'volume', 'turnover']
    text = lambda header, lines: '\n'.join([*header, *lines]) + '\n'
    return {
        'yahoo_classic.csv': text(['Date,Open,High,Low,Close,Adj Close,Volume'], _rows(bars, day, ['open', 'high', 'low', 'close', 'adj', 'volume'])),
        'yahoo_multi.csv': text(['Price,Close,High,Low,Open,Volume', 'Ticker' + ',SOL-USD' * 5, 'Date,,,,,'],
                                _rows(bars, day, ['close', 'high', 'low', 'open', 'volume'])),
        'cryptodatadownload.csv': text(['https://www.CryptoDataDownload.com', 'unix,date,symbol,open,high,low,close,Volume SOL,Volume USDT'],
                                       _rows(bars, cdd, ['open', 'high', 'low', 'close', 'volume', 'turnover'], newest_first=True)),
        'bybit_export.csv': text(['startTime,open,high,low,close,volume,turnover'], _rows(bars, ms, bybit, newest_first=True)),
        'bybit_api_names.csv': text(['startTime,openPrice,highPrice,lowPrice,closePrice,volume,turnover'], _rows(bars, ms, bybit, newest_first=True)),
        'bybit_no_header.csv': text([], _rows(bars, ms, bybit)),
        'generic_seconds.csv': text(['Timestamp,OPEN,HIGH,LOW,CLOSE,VOLUME'], _rows(bars, sec, ohlcv)),
        'generic_iso.csv': text(['datetime,open,high,low,close,volume'], _rows(bars, iso, ohlcv)),
    }


@pytest.mark.parametrize('layout', [name for name in _layouts(_daily_bars().iloc[:2]) if name != 'bybit_api_names.csv'])
def test_own_csv_by_symbol(tmp_path, layout):
    "download --symbol X --source csv FILE stores X_1d.csv under the working directory; preprocess --symbol X finds it."
    from tradebot.data import load_raw
    (tmp_path / layout).write_text(_layouts(_daily_bars())[layout])
    proc = tradebot('download', '--symbol', 'SOL-USD', '--source', 'csv', layout, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    stored = tmp_path / 'data' / 'raw' / 'SOL-USD_1d.csv'
    assert f'SOL-USD 1d from {tmp_path / layout}: 500 bars' in proc.stdout and str(stored) in proc.stdout, proc.stdout
    pd.testing.assert_frame_equal(load_raw(stored), _daily_bars(), check_freq=False, rtol=1e-12)
    proc = tradebot('preprocess', '--symbol', 'SOL-USD', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f'SOL-USD 1d from {stored}: ' in proc.stdout and f'cached in {tmp_path}/data/processed/' in proc.stdout, proc.stdout


def test_bybit_api_daily_csv_through_the_pipeline(tmp_path):
    "A Bybit export with the API's field names and daily bars: download, then pipeline --quick by symbol alone."
    mine = tmp_path / 'sol_daily.csv'
    mine.write_text(_layouts(_daily_bars())['bybit_api_names.csv'])
    assert tradebot('download', '--symbol', 'SOL-USD', '--source', 'csv', mine, cwd=tmp_path).returncode == 0
    proc = tradebot('pipeline', '--quick', '--symbol', 'SOL-USD', '--no-progress', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'SOL-USD 1d (csv)' in proc.stdout, proc.stdout
    metrics = sorted((tmp_path / 'runs').rglob('metrics.json'))
    runs = {path.relative_to(tmp_path / 'runs').parts[0] for path in metrics}
    assert len(runs) >= 3 * 3 + 2, runs          # 3 learning agents x 3 seeds, and the baselines
    for path in metrics: assert json.loads(path.read_text())['periods_per_year'] == 365, path
    configs = list((tmp_path / 'runs').glob('*/config.yaml'))
    assert configs and all(f"csv_path: {tmp_path}/data/raw/SOL-USD_1d.csv" in c.read_text() for c in configs)


def test_interval_checked_and_unknown_symbol(tmp_path):
    mine = tmp_path / 'daily.csv'
    mine.write_text(_layouts(_daily_bars().iloc[:60])['generic_iso.csv'])
    assert_one_line_error(tradebot('download', '--symbol', 'SOL-USD', '--source', 'csv', mine, '--interval', '1h', cwd=tmp_path),
                          str(mine), "the bars are 1d apart", "not '1h'")
    assert_one_line_error(tradebot('preprocess', '--symbol', 'SOL-USD', cwd=tmp_path),
                          "no data for 'SOL-USD'", '`tradebot download --symbol SOL-USD --source csv FILE`')
    assert_one_line_error(tradebot('train', '--algo', 'dqn', '--source', 'csv', mine, '--interval', '4h', cwd=tmp_path),
                          str(mine), "not '4h'")


def test_work_folders_follow_the_working_directory_or_home(tmp_path):
    "data/ goes under the working directory, or under TRADEBOT_HOME when it is set; never into the checkout."
    proc = tradebot('download', '--symbol', 'ETH-USD', '--source', 'sample', '--interval', '1d', cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / 'data' / 'raw' / 'ETH-USD_1d.csv').is_file(), proc.stderr
    home = tmp_path / 'home'
    proc = tradebot('download', '--symbol', 'ETH-USD', '--source', 'sample', '--interval', '1d', cwd=tmp_path, home=home)
    assert proc.returncode == 0 and (home / 'data' / 'raw' / 'ETH-USD_1d.csv').is_file(), proc.stderr
    proc = tradebot('preprocess', '--symbol', 'ETH-USD', cwd=tmp_path, home=home)
    assert proc.returncode == 0 and f'ETH-USD 1d from {home}/data/raw/ETH-USD_1d.csv' in proc.stdout, proc.stdout
    assert list((home / 'data' / 'processed').glob('*/scaler.json')), proc.stdout


def test_sim_serves_and_refuses_a_public_address():
    "`tradebot sim` through the installed script: it serves on loopback for --duration, and refuses 0.0.0.0."
    helped = tradebot('sim', '--help')
    assert helped.returncode == 0 and '--speed' in helped.stdout, helped.stdout
    proc = tradebot('sim', '--port', '0', '--speed', '20', '--duration', '0.5')
    assert proc.returncode == 0 and 'ws://127.0.0.1:' in proc.stdout, (proc.stdout, proc.stderr)
    refused = tradebot('sim', '--host', '0.0.0.0', '--duration', '0')
    assert refused.returncode == 2 and 'refusing to listen on 0.0.0.0' in refused.stderr, refused.stderr


def test_prices_shows_both_symbols_moving_with_nothing_else_started():
    "`tradebot prices --exchange sim` on a fresh machine: it starts the simulator itself; both symbols are LIVE and move."
    with socket.socket() as probe:                       # a port nobody listens on: no simulator is running there
        probe.bind(('127.0.0.1', 0)); port = probe.getsockname()[1]
    proc = tradebot('prices', '--exchange', 'sim', '--port', port, '--duration', '4', '--refresh', '0.5')
    assert proc.returncode == 0, proc.stderr
    screens = [screen for screen in proc.stdout.split('symbol ') if 'BTCUSDT' in screen and 'ETHUSDT' in screen]
    assert len(screens) >= 3, proc.stdout
    lasts = {symbol: {line.split()[3] for screen in screens for line in screen.splitlines() if line.startswith(symbol)}
             for symbol in ('BTCUSDT', 'ETHUSDT')}
    assert all(len(values) >= 2 for values in lasts.values()), lasts   # each symbol's last price moved
    assert 'LIVE' in screens[-1], screens[-1]

