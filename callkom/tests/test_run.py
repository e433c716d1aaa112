"""`make run` starts and stops like a well-behaved program: the supervisor of the Procfile's processes, then the
README's command itself (Ctrl-C, SIGTERM, the port in every link it writes)."""

import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from callkom.run import Supervisor, procfile
from tenants.testing import real_clock_environ

BASE = Path(__file__).resolve().parents[2]
PY = sys.executable


def python(code: str) -> str:
    return f"exec {PY} -c '{code}'"


SLOW_STOPPER = python("import signal, sys, time\n"
                      "signal.signal(signal.SIGTERM, lambda *a: (print(\"bye\", flush=True), time.sleep(0.5),"
                      " sys.exit(0)))\nprint(\"ready\", flush=True)\nwhile True: time.sleep(1)")
DEAF = python("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True: time.sleep(1)")
# A parent whose child ignores SIGTERM: the parent ends, the child must not outlive it.
PARENT = python("import signal, subprocess, sys, time\n"
                "child = subprocess.Popen([sys.executable, \"-c\", "
                "\"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)\"])\n"
                "print(\"child\", child.pid, flush=True)\nwhile True: time.sleep(1)")


def supervise(commands: dict[str, str], stop_timeout=3.0):
    out = io.StringIO()
    supervisor = Supervisor(commands, env=real_clock_environ(), cwd=BASE, out=out, stop_timeout=stop_timeout)
    return supervisor, out


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def start(supervisor):
    """Supervise in a thread; the test plays the signals by appending them, as the handlers would."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("status", supervisor.supervise()), daemon=True)
    thread.start()
    assert wait_for(lambda: len(supervisor.processes) == len(supervisor.commands))
    return thread, result


def test_the_procfile_names_web_worker_and_beat():
    commands = procfile(BASE / "Procfile")
    assert list(commands) == ["web", "worker", "beat"]
    assert "callkom.asgi:application" in commands["web"] and '"${PORT:-8000}"' in commands["web"]


def test_a_signal_stops_every_process_gracefully_and_ends_with_status_0():
    supervisor, out = supervise({"one": SLOW_STOPPER, "two": SLOW_STOPPER})
    thread, result = start(supervisor)
    assert wait_for(lambda: out.getvalue().count("| ready") == 2)
    supervisor.signals.append(signal.SIGINT)
    thread.join(timeout=10)
    assert result["status"] == 0
    assert out.getvalue().count("| bye") == 2, out.getvalue()
    assert "SIGINT: stopping one, two" in out.getvalue()
    assert all(process.returncode == 0 for process in supervisor.processes.values())


def test_a_process_deaf_to_sigterm_is_killed_after_the_timeout():
    supervisor, out = supervise({"polite": SLOW_STOPPER, "deaf": DEAF}, stop_timeout=1.5)
    thread, result = start(supervisor)
    assert wait_for(lambda: "| ready" in out.getvalue())
    started = time.monotonic()
    supervisor.signals.append(signal.SIGTERM)
    thread.join(timeout=10)
    assert 1.4 < time.monotonic() - started < 5
    assert result["status"] == 0
    assert "deaf did not stop in time: killed" in out.getvalue()
    assert supervisor.processes["deaf"].returncode == -signal.SIGKILL


def test_a_second_signal_kills_at_once():
    supervisor, out = supervise({"deaf": DEAF}, stop_timeout=30)
    thread, result = start(supervisor)
    supervisor.signals.append(signal.SIGINT)
    assert wait_for(lambda: "stopping deaf" in out.getvalue())
    started = time.monotonic()
    supervisor.signals.append(signal.SIGINT)
    thread.join(timeout=10)
    assert time.monotonic() - started < 3
    assert not thread.is_alive()


def test_a_process_that_dies_stops_the_others_and_gives_its_status():
    supervisor, out = supervise({"polite": SLOW_STOPPER, "crash": python("import sys; sys.exit(3)")})
    thread, result = start(supervisor)
    thread.join(timeout=10)
    assert result["status"] == 3
    assert "crash ended: stopping polite" in out.getvalue()
    assert supervisor.processes["polite"].returncode == 0


def test_nothing_a_process_started_outlives_the_stop():
    supervisor, out = supervise({"parent": PARENT}, stop_timeout=1)
    thread, result = start(supervisor)
    assert wait_for(lambda: "child " in out.getvalue())
    child = int(re.search(r"child (\d+)", out.getvalue())[1])
    supervisor.signals.append(signal.SIGTERM)
    thread.join(timeout=10)
    assert wait_for(lambda: not alive(child), timeout=5)


# The README's command -------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MakeRun:
    """``make run PORT=…`` in a session of its own, on the embedded defaults in a fresh folder."""

    def __init__(self, var_dir: str, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(Path(var_dir) / "make-run.log", "w+b")  # noqa: SIM115 (closed in stop)
        # On the real clock even when the suite runs under faketime, whose clock_nanosleep breaks time.sleep().
        env = {k: v for k, v in real_clock_environ().items()
               if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CALLKOM_PUBLIC_URL",
                            "DJANGO_ALLOW_ASYNC_UNSAFE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
        env["CALLKOM_VAR_DIR"] = var_dir
        self.process = subprocess.Popen(["make", "--no-print-directory", "run", f"PORT={port}"], cwd=BASE, env=env,
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def get(self, path: str, opener=None) -> tuple[int, str]:
        try:
            with (opener or urllib.request.build_opener()).open(self.url + path, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def wait_until_up(self, timeout=240):
        def up():
            assert self.process.poll() is None, self.output()[-3000:]
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False

        assert wait_for(up, timeout), self.output()[-3000:]
        # As a person would: Ctrl-C once the worker and beat have started too.
        assert wait_for(lambda: " ready." in self.output() and "beat: Starting" in self.output(), 60), \
            self.output()[-3000:]

    def stop(self, signum: int, *, whole_group: bool) -> float:
        started = time.monotonic()
        if whole_group:  # Ctrl-C in a terminal: the signal reaches the foreground process group
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)
        self.process.wait(timeout=30)
        return time.monotonic() - started

    def leftovers(self) -> list[str]:
        """Processes still running from this run (its daphne, Celery worker or beat)."""
        result = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True)
        var_dir = Path(self.log.name).parent
        return [line for line in result.stdout.splitlines()
                if ("callkom" in line and ("celery" in line or "daphne" in line or "callkom.run" in line))
                and _environ_mentions(line.split()[0], str(var_dir))]


def _environ_mentions(pid: str, text: str) -> bool:
    try:
        return text.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def subscribe(run: MakeRun, email: str) -> None:
    """Ask for change notices on the public page, as a visitor would (CSRF cookie and token)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    page = run.get("/subprocessors/subscribe/", opener)[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": email}).encode()
    request = urllib.request.Request(run.url + "/subprocessors/subscribe/", data=data,
                                     headers={"Referer": run.url + "/subprocessors/subscribe/"})
    with opener.open(request, timeout=10) as response:
        assert response.status == 200


@pytest.mark.process
def test_make_run_serves_on_its_port_writes_it_in_links_and_stops_cleanly():
    with tempfile.TemporaryDirectory(prefix="callkom-make-run-") as var_dir:
        port = free_port()
        run = MakeRun(var_dir, port)
        try:
            run.wait_until_up()
            assert f'href="{run.url}/subprocessors/' in run.get("/subprocessors/feed/")[1]
            assert f'"type":"{run.url}/api/problems/' in run.get("/api/v1/calls/")[1].replace(" ", "")
            subscribe(run, "watcher@example.org")
            assert wait_for(lambda: f"{run.url}/subprocessors/subscribe/" in run.output(), 10), run.output()[-3000:]
            assert "127.0.0.1:8000" not in run.output()
            elapsed = run.stop(signal.SIGINT, whole_group=True)
        finally:
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
        output = run.output()
        # make re-raises a Ctrl-C on itself once its recipe has ended, as any program killed by Ctrl-C.
        assert run.process.returncode in (0, -signal.SIGINT), output[-3000:]
        assert elapsed < 15, output[-3000:]
        for bad in ("Traceback", "RecursionError", "Segmentation fault", "make: ***", "ERROR"):
            assert bad not in output, output[-3000:]
        assert output.count("Warm shutdown") == 1
        assert run.leftovers() == []

        # Once more, stopped by SIGTERM sent to make alone (a process manager, `kill <pid>`).
        run = MakeRun(var_dir, free_port())
        try:
            run.wait_until_up()
            elapsed = run.stop(signal.SIGTERM, whole_group=False)
        finally:
            if run.process.poll() is None:
                os.killpg(run.process.pid, signal.SIGKILL)
        output = run.output()
        assert elapsed < 15, output[-3000:]
        assert "SIGTERM: stopping web, worker, beat" in output
        assert "Traceback" not in output and "did not stop in time" not in output, output[-3000:]
        assert run.leftovers() == []
