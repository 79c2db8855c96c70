"""`tradebot live` as a user runs it: a real process with its own simulator and uvicorn server on loopback.

After training (quick budgets) into a fresh TRADEBOT_HOME, `tradebot live --exchange sim` alone must serve moving
prices of both symbols, fill /decisions with every member's vote, stream tickers and decisions on /ws/prices, and
open and close a paper position. The README's curl commands work against it. Stopping and restarting keeps the
paper account and the decision history; SIGKILL loses no recorded trade.
"""
import json, os, shutil, signal, sqlite3, subprocess, sys, time
from pathlib import Path
import httpx, pytest
from websockets.sync.client import connect
from tradebot.compute import may_raise_priority, may_use_realtime, io_priority, has_capability, CAP_SYS_ADMIN
from tradebot.live.app import LIVE_NICENESS, LIVE_REALTIME, REALTIME_IO_LEVEL, REALTIME_LEASH
from tradebot.live.paper import PaperJournal
from livestack import Live, free_port, train_quick_runs

ROOT = Path(__file__).resolve().parent.parent
EXE = shutil.which('tradebot', path=str(Path(sys.executable).parent)) or 'tradebot'


@pytest.fixture(scope='module')
def home(tmp_path_factory):
    "A TRADEBOT_HOME holding one quick run of each learning algorithm."
    return train_quick_runs(tmp_path_factory.mktemp('live_home'))


def test_live_alone_trades_on_paper_and_survives_restarts(home):
    live = Live(home)
    try:
        assert 'council:' in ''.join(live.lines) and 'qlearning' in ''.join(live.lines), live.lines
        if may_raise_priority(LIVE_NICENESS): assert os.getpriority(os.PRIO_PROCESS, live.proc.pid) == LIVE_NICENESS   # first on the CPU
        else: assert f'not the {LIVE_NICENESS} asked for' in ''.join(live.lines), live.lines                         # and says when it is not
        if may_use_realtime(LIVE_REALTIME):
            assert os.sched_getscheduler(live.proc.pid) == os.SCHED_RR                                                # ahead of ordinary processes
            leash = next(line for line in Path(f'/proc/{live.proc.pid}/limits').read_text().splitlines() if line.startswith('Max realtime timeout'))
            assert leash.split()[3] == str(int(REALTIME_LEASH * 1e6)), leash                                          # on a leash
        else: assert 'no real-time priority' in ''.join(live.lines), live.lines
        if has_capability(CAP_SYS_ADMIN) and io_priority() is not None: assert io_priority(live.proc.pid) == (1, REALTIME_IO_LEVEL)   # its fsyncs first
        first = live.until(lambda: (p := live.http.get('/prices').json()) and all(q['state'] == 'LIVE' for q in p.values()) and p, 30, 'live prices')
        assert set(first) == {'BTCUSDT', 'ETHUSDT'}
        live.until(lambda: all(live.http.get('/prices').json()[s]['ts'] != first[s]['ts'] for s in first), 10, 'moving prices')
        def voted():   # decisions taken once the bars were warmed up carry every member's vote
            decided = [d for d in live.http.get('/decisions', params={'limit': 100}).json() if d['votes']]
            return len(decided) >= 5 and decided
        decisions = live.until(voted, 60, 'decisions')
        assert all(len(d['votes']) == 3 and all(v['action'] or v['abstain'] for v in d['votes']) for d in decisions)
        trades = live.until(lambda: live.http.get('/trades').json(), 120, 'a paper position opened and closed')
        assert trades[0]['entry_price'] > 0 and trades[0]['exit_price'] > 0

        token = (home / 'data' / 'live' / 'api_token').read_text().strip()
        assert oct((home / 'data' / 'live' / 'api_token').stat().st_mode & 0o777) == '0o600'
        ticket = live.http.post('/ws/ticket', headers={'Authorization': f'Bearer {token}'}).json()['ticket']
        with connect(live.url.replace('http', 'ws') + f'/ws/prices?ticket={ticket}') as ws:
            kinds = set()
            for _ in range(2000):
                kinds.add(json.loads(ws.recv(timeout=10))['type'])
                if {'ticker', 'decision'} <= kinds: break
        assert {'ticker', 'decision'} <= kinds, kinds

        # the README's curl examples, verbatim but for the port
        prices = subprocess.run(['curl', '-s', f'{live.url}/prices'], capture_output=True, text=True, timeout=10)
        assert 'BTCUSDT' in json.loads(prices.stdout)
        halt = subprocess.run(['curl', '-s', '-X', 'POST', '-H', f'Authorization: Bearer {token}', '-H', 'Content-Type: application/json',
                               '-d', '{"reason": "lunch"}', f'{live.url}/strategy/halt'], capture_output=True, text=True, timeout=10)
        assert json.loads(halt.stdout)['risk_state'] == 'HALTED', halt.stdout
        denied = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', f'{live.url}/strategy/resume'], capture_output=True, text=True, timeout=10)
        assert denied.stdout == '401'
        live.http.post('/strategy/resume', headers={'Authorization': f'Bearer {token}'}).raise_for_status()
        history = live.http.get('/decisions', params={'limit': 1000}).json()
    finally:
        code = live.stop()
    assert code == 0, ''.join(live.lines)
    journal = PaperJournal(home / 'data' / 'live' / 'paper-sim.sqlite')
    saved = journal.load('BTCUSDT'); journal.close()          # the account as the stopped process left it

    again = Live(home, '--stopped')                      # a restart: same paper account, same decision history
    try:
        restored, restored_trades = again.http.get('/account').json(), again.http.get('/trades').json()
        assert restored_trades[:len(saved['trades'])] == saved['trades']   # every trade kept, in order
        if len(restored_trades) == len(saved['trades']):                 # (an open position's stop may have closed it since)
            fields = saved['account']['fields']
            assert (restored['cash'], restored['position']) == (fields['cash'], fields['units'])
        kept = again.http.get('/decisions', params={'limit': 1000}).json()
        assert [d['id'] for d in kept[:len(history)]] == [d['id'] for d in history]
        assert again.http.get('/status').json()['strategy']['running'] is False

        again.http.post('/strategy/start', headers={'Authorization': f'Bearer {token}'}).raise_for_status()
        before = len(again.http.get('/trades').json())
        again.until(lambda: len(again.http.get('/trades').json()) > before, 120, 'a trade after the restart')
        reported = again.http.get('/trades').json()
    finally:
        assert again.stop(signal.SIGKILL) == -signal.SIGKILL
    journal = sqlite3.connect(home / 'data' / 'live' / 'paper-sim.sqlite')
    recorded = [json.loads(r[0]) for r in journal.execute("select record from trades where symbol = 'BTCUSDT' order by id")]
    journal.close()
    assert recorded[:len(reported)] == reported         # every trade the API showed survives the SIGKILL


KEY, SECRET = 'AKTESTKEY123', 'SKTESTSECRET456'     # dummy strings that must never show up anywhere


def test_trade_sim_never_duplicates_an_order_across_a_sigkill_and_never_leaks_keys(home):
    "`tradebot live --trade sim` against a `tradebot sim` process: real signed orders, a SIGKILL between send and ack."
    env = os.environ | {'TRADEBOT_HOME': str(home)}
    stored = subprocess.run([EXE, 'keys', 'set', '--env', 'sim', '--key', KEY], input=SECRET + '\n', capture_output=True, text=True, env=env, timeout=60)
    assert stored.returncode == 0 and SECRET not in stored.stdout + stored.stderr, stored.stderr
    ws_port, rest_port = free_port(), free_port()
    sim = subprocess.Popen([EXE, 'sim', '--port', str(ws_port), '--rest-port', str(rest_port), '--speed', '20', '--api-key', KEY, '--api-secret', SECRET],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=home)
    control = httpx.Client(base_url=f'http://127.0.0.1:{rest_port}', timeout=10)
    seen = []                                          # every API and WebSocket answer, scanned for the keys at the end
    try:
        for _ in range(300):
            try: control.get('/sim/state').raise_for_status(); break
            except httpx.HTTPError: time.sleep(0.1)
        live = Live(home, '--trade', 'sim', '--sim-rest-port', str(rest_port), sim_port=ws_port, log_level='DEBUG')
        try:
            assert 'trading on the sim account' in ''.join(live.lines) and 'matches' in ''.join(live.lines), live.lines
            live.until(lambda: live.http.get('/trades').json(), 120, 'a trade through real orders')
            for path in ('/status', '/account', '/trades', '/decisions', '/health', '/prices'): seen.append(live.http.get(path).text)
            assert json.loads(seen[0])['mode'] == 'sim'
            token = (home / 'data' / 'live' / 'api_token').read_text().strip()
            with connect(live.url.replace('http', 'ws') + '/ws/prices', additional_headers={'Authorization': f'Bearer {token}'}) as ws:
                seen.extend(ws.recv(timeout=10) for _ in range(50))         # WebSocket messages are scanned too
            before = len(control.get('/sim/received').json())
            control.post('/sim/faults', json={'endpoint': 'order/create', 'item': {'create_then_timeout': 60.0}}).raise_for_status()
            live.until(lambda: len(control.get('/sim/received').json()) > before, 120, 'an order sent into the held answer')
        finally:
            assert live.stop(signal.SIGKILL) == -signal.SIGKILL
        journal = sqlite3.connect(home / 'data' / 'live' / 'orders-sim.sqlite')
        stuck = journal.execute("SELECT link_id FROM orders WHERE state IN ('SENT', 'UNKNOWN')").fetchall()
        journal.close()
        assert len(stuck) == 1, stuck                  # killed between send and acknowledgement
        control.post('/sim/clear').raise_for_status()

        again = Live(home, '--trade', 'sim', '--sim-rest-port', str(rest_port), '--stopped', sim_port=ws_port, log_level='DEBUG')
        try:
            assert 'matches' in ''.join(again.lines), again.lines           # the reconciled position is the exchange's
            journal = sqlite3.connect(home / 'data' / 'live' / 'orders-sim.sqlite')
            state = journal.execute('SELECT state FROM orders WHERE link_id = ?', stuck[0]).fetchone()[0]
            journal.close()
            assert state == 'FILLED', state                                    # found by its orderLinkId and adopted
            journal = sqlite3.connect(home / 'data' / 'live' / 'orders-sim.sqlite')
            filled = sum(float(q) * (1 if side == 'Buy' else -1) for side, q in journal.execute("SELECT side, qty FROM executions WHERE symbol = 'BTCUSDT'"))
            journal.close()
            assert abs(again.http.get('/account').json()['position'] - filled) < 1e-12   # the account holds what the exchange filled
            assert len(control.get('/sim/orders', params={'orderLinkId': stuck[0][0]}).json()) == 1   # no second order
            for path in ('/status', '/account', '/trades', '/decisions', '/health'): seen.append(again.http.get(path).text)
        finally:
            assert again.stop() == 0
    finally:
        control.close(); sim.terminate(); sim.wait(timeout=30)
    output = ''.join(live.lines + again.lines) + ''.join(seen)
    assert 'DEBUG' in output                           # the debug log was on, and still:
    assert KEY not in output and SECRET not in output


def test_trade_sim_in_process_places_fills_and_reconciles(home):
    "`tradebot live --exchange sim --trade sim` alone: its own simulator with a fresh account and key pair, offline."
    live = Live(home, '--trade', 'sim', '--journal', str(home / 'orders-own-sim.sqlite'))
    try:
        assert 'trading on the sim account' in ''.join(live.lines) and 'matches' in ''.join(live.lines), live.lines
        trades = live.until(lambda: live.http.get('/trades').json(), 120, 'a trade through real orders')
        assert live.http.get('/status').json()['mode'] == 'sim'
    finally:
        assert live.stop() == 0
    journal = sqlite3.connect(home / 'orders-own-sim.sqlite')
    states = dict(journal.execute('SELECT state, count(*) FROM orders GROUP BY state').fetchall())
    fills = journal.execute('SELECT count(*) FROM executions').fetchone()[0]
    journal.close()
    assert states.get('FILLED', 0) >= 2 and fills >= 2, (states, fills)     # the trade's entry and exit, filled at the exchange
    assert trades[0]['exit_price'] > 0
