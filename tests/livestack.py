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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


class Live:
    "A `tradebot live` process on free ports; `url` once it has said where it listens; all its output in `lines`."
    def __init__(self, home, *extra, sim_port=None, log_level='WARNING', speed=20, env=None, port=0):
        self.home, self.sim_port = home, sim_port or free_port()
        env = os.environ | {'TRADEBOT_HOME': str(home), 'PYTHONUNBUFFERED': '1', 'TRADEBOT_LOG_LEVEL': log_level} | (env or {})
        self.proc = subprocess.Popen([EXE, 'live', '--exchange', 'sim', '--port', str(port), '--sim-port', str(self.sim_port), '--speed', str(speed), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=home)
        self.lines = []
        for line in self.proc.stdout:                     # bounded: the process prints the URL or ends
            self.lines.append(line)
            if (found := re.search(r'API: (http://127\.0\.0\.1:\d+)', line)): self.url = found.group(1); break
        else: raise AssertionError(''.join(self.lines))
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()   # keep the pipe drained
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def until(self, check, seconds, what):
        for _ in range(int(seconds / 0.1)):
            if (result := check()): return result
            time.sleep(0.1)
        raise AssertionError(f'no {what} after {seconds} s: ' + ''.join(self.lines[-20:]))

    def stop(self, sig=signal.SIGINT) -> int:
        self.http.close(); self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)


class Sim:
    "A `tradebot sim` process (the local exchange) on a free port, so tests can also listen to its stream directly."
    def __init__(self, speed=2, port=None):
        self.port = port or free_port()
        self.proc = subprocess.Popen([EXE, 'sim', '--port', str(self.port), '--rest-port', str(free_port()), '--speed', str(speed)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=os.environ | {'PYTHONUNBUFFERED': '1'})
        self.lines = []
        for line in self.proc.stdout:                     # bounded: it prints its URLs or ends
            self.lines.append(line)
            if 'public WS' in line: break
        else: raise AssertionError(''.join(self.lines))
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)
