"""A real `tradebot live` process for the integration tests: quick runs in a fresh TRADEBOT_HOME, free ports, its output kept."""
import os, re, shutil, signal, socket, subprocess, sys, threading, time
from pathlib import Path
import httpx

EXE = shutil.which('tradebot', path=str(Path(sys.executable).parent)) or 'tradebot'


def train_quick_runs(home, algos=('qlearning', 'dqn', 'ppo')):
    "One quick run of each algorithm in `home`/runs (the budgets of `tradebot train --quick`)."
    env = os.environ | {'TRADEBOT_HOME': str(home)}
    for algo in algos:
        proc = subprocess.run([EXE, 'train', '--algo', algo, '--quick', '--no-progress'], capture_output=True, text=True, env=env, timeout=300, cwd=home)
        assert proc.returncode == 0, proc.stderr
    return home


def follow_output(proc, pattern: str, what: str, seconds: float=180) -> tuple:
    "Read `proc`'s output in a thread until a line matches `pattern` (or it exits, or `seconds` pass): (match, lines)."
    lines, found = [], []
    def read():
        for line in proc.stdout:
            lines.append(line)
            if not found and (match := re.search(pattern, line)): found.append(match)
    threading.Thread(target=read, daemon=True).start()   # keeps the pipe drained for the process's whole life
    deadline = time.monotonic() + seconds
    while not found and proc.poll() is None and time.monotonic() < deadline: time.sleep(0.05)
    if not found:
        if proc.poll() is None: proc.kill(); proc.wait(10)
        raise AssertionError(f'{what} did not start: ' + ''.join(lines[-30:]))
    return found[0], lines


def stop_process(proc, sig=signal.SIGINT, seconds: float=30) -> int:
    "Send `sig` and wait; kill it if it does not end in time (and fail)."
    proc.send_signal(sig)
    try: return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill(); proc.wait(10)
        raise AssertionError(f'{proc.args[:2]} did not stop within {seconds} s: killed') from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


class Live:
    "A `tradebot live` process on free ports; `url` once it has said where it listens; all its output in `lines`."
    def __init__(self, home, *extra, sim_port=None, log_level='WARNING', speed=20, env=None, port=0,
                 start_new_session=False):   # True: a session (and scheduler autogroup) of its own, as from its own terminal
        self.home, self.sim_port = home, sim_port or free_port()
        env = os.environ | {'TRADEBOT_HOME': str(home), 'PYTHONUNBUFFERED': '1', 'TRADEBOT_LOG_LEVEL': log_level} | (env or {})
        self.proc = subprocess.Popen([EXE, 'live', '--exchange', 'sim', '--port', str(port), '--sim-port', str(self.sim_port), '--speed', str(speed), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=home,
                                     start_new_session=start_new_session)
        found, self.lines = follow_output(self.proc, r'API: (http://127\.0\.0\.1:\d+)', 'tradebot live')
        self.url = found.group(1)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def until(self, check, seconds, what):
        for _ in range(int(seconds / 0.1)):
            if (result := check()): return result
            time.sleep(0.1)
        raise AssertionError(f'no {what} after {seconds} s: ' + ''.join(self.lines[-20:]))

    def stop(self, sig=signal.SIGINT) -> int:
        self.http.close()
        return stop_process(self.proc, sig)


class Sim:
    "A `tradebot sim` process (the local exchange) on a free port, so tests can also listen to its stream directly."
    def __init__(self, speed=2, port=None):
        self.port = port or free_port()
        self.proc = subprocess.Popen([EXE, 'sim', '--port', str(self.port), '--rest-port', str(free_port()), '--speed', str(speed)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=os.environ | {'PYTHONUNBUFFERED': '1'})
        _, self.lines = follow_output(self.proc, 'public WS', 'tradebot sim')

    def stop(self) -> int: return stop_process(self.proc)
