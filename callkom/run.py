"""``make run``: the Procfile's processes (web, worker, beat) in the foreground, stopped together.

Each process starts in a session of its own, so Ctrl-C and SIGTERM reach this supervisor only. It then sends
SIGTERM to each process (not to its group: Celery's prefork pool must be stopped by its main process, which
waits for running tasks), waits for them all, and kills whatever is left of their groups after
``stop_timeout`` seconds or at a second Ctrl-C. A stop asked for by a signal ends with status 0; a process that
dies by itself stops the others, and its status is returned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# An idle Celery worker on the filesystem broker needs about 7 s for its warm shutdown.
STOP_TIMEOUT_S = 12.0


def procfile(path: Path) -> dict[str, str]:
    """Return the ``name: command`` lines of a Procfile, in order."""
    commands = {}
    for line in path.read_text().splitlines():
        name, colon, command = line.partition(":")
        if colon and name.strip() and not name.lstrip().startswith("#"):
            commands[name.strip()] = command.strip()
    return commands


class Supervisor:
    def __init__(self, commands: dict[str, str], *, env: dict[str, str], cwd: Path, out=None,
                 stop_timeout: float = STOP_TIMEOUT_S):
        self.commands, self.env, self.cwd, self.stop_timeout = commands, env, cwd, stop_timeout
        self.out = out or sys.stdout
        self.width = max(map(len, commands))
        self.processes: dict[str, subprocess.Popen] = {}
        self.signals: list[int] = []
        self._lock = threading.Lock()
        self._relays: list[threading.Thread] = []

    def say(self, name: str, text: str) -> None:
        with self._lock:
            self.out.write(f"{name.ljust(self.width)} | {text.rstrip()}\n")
            self.out.flush()

    def run(self) -> int:
        """Supervise with Ctrl-C and SIGTERM as the signals to stop (from the main thread)."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda signum, frame: self.signals.append(signum))
        return self.supervise()

    def supervise(self) -> int:
        """Start every process, wait for a stop signal or for one to end, stop them all; return the status."""
        for name, command in self.commands.items():
            self._start(name, command)
        while not self.signals and all(process.poll() is None for process in self.processes.values()):
            time.sleep(0.1)
        ended = [name for name, process in self.processes.items() if process.poll() is not None]
        self.stop(reason=signal.Signals(self.signals[0]).name if self.signals else f"{ended[0]} ended")
        if self.signals and not ended:
            return 0
        status = self.processes[ended[0]].returncode if ended else 0
        return status if status > 0 else 1

    def stop(self, *, reason: str) -> None:
        running = [name for name, process in self.processes.items() if process.poll() is None]
        self.say("system", f"{reason}: stopping {', '.join(running) or 'nothing'}")
        for name in running:
            self._signal(self.processes[name].pid, signal.SIGTERM, group=False)
        asked = len(self.signals)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and len(self.signals) == asked:
            if all(process.poll() is not None for process in self.processes.values()):
                break
            time.sleep(0.1)
        for name, process in self.processes.items():
            if process.poll() is None:
                self.say("system", f"{name} did not stop in time: killed")
            # Its group too: what the process started (a pool child) must not outlive it.
            self._signal(process.pid, signal.SIGKILL, group=True)
            process.wait()
        for relay in self._relays:
            relay.join(timeout=2)

    def _start(self, name: str, command: str) -> None:
        # The commands are the project's own Procfile.
        process = subprocess.Popen(["/bin/sh", "-c", command], cwd=self.cwd, env=self.env,  # noqa: S603
                                   start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        self.processes[name] = process
        relay = threading.Thread(target=self._relay, args=(name, process.stdout), daemon=True)
        relay.start()
        self._relays.append(relay)
        self.say("system", f"{name} started (pid {process.pid})")

    def _relay(self, name: str, stream) -> None:
        for line in iter(stream.readline, b""):
            self.say(name, line.decode(errors="replace"))

    @staticmethod
    def _signal(pid: int, signum: int, *, group: bool) -> None:
        try:
            (os.killpg if group else os.kill)(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def main() -> int:
    env = dict(os.environ)
    # The commands come from this virtualenv, whether or not it is activated.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return Supervisor(procfile(ROOT / "Procfile"), env=env, cwd=ROOT).run()


if __name__ == "__main__":
    sys.exit(main())
