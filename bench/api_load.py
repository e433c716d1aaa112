"""Throughput and latency of GET /api/v1/calls/ served by daphne, under 1, 4 and 16 concurrent clients.

    createdb -h 127.0.0.1 -U postgres callkom_bench_load
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/callkom_bench_load .venv/bin/python bench/api_load.py
    dropdb -h 127.0.0.1 -U postgres callkom_bench_load

Data: one tenant with ``--calls`` calls (default 10,000, written as ``bench/api_calls.py`` writes them) and a key with
every scope, in the (empty, created beforehand) PostgreSQL database of DATABASE_URL; ``migrate`` runs first.

Server: ``daphne -b 127.0.0.1 -p <free port> callkom.asgi:application`` in a child process, with production
settings (DEBUG off; the development secrets passed explicitly, SECURE_SSL_REDIRECT off since there is no TLS
proxy on loopback), ``--verbosity 0`` (no access log on stdout; ``--access-log`` puts it back), the rate limit
raised out of the way (``API_RATE_LIMIT=1000000/s``: the throttle still counts each request), the cache and
channel layer of the environment (local memory unless REDIS_URL is set).

Client: ``--concurrency`` threads (default 1, 4, 16), each with its own keep-alive ``http.client`` connection,
sending ``GET /api/v1/calls/`` (the first page, 50 calls) back to back for ``--seconds`` seconds (default 30) per
level, after ``--warmup`` seconds untimed. Reported per level: requests/s, latency p50/p95/p99 (ms), errors (any
status other than 200, or a broken connection), the CPU used by daphne (share of one core) and by this client
(CPU ms per request), the whole machine's CPU use, and the database connections the server holds at the end of the
level (``--conn-max-age`` sets DB_CONN_MAX_AGE for the server: under ASGI each request's thread keeps its own
persistent connection, so the settings' default of 60 s piles them up; 0 closes each at the end of its request).
The client's own ceiling is measured the same way against ``/healthz`` (which runs its checks: a database query,
the cache, the channel layer and the broker), to show how many requests per second it can drive when the server
does less.
"""

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path

BASE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE))

from django_setup import set_up_django  # noqa: E402 - bench/ is the script's own folder

TICKS = os.sysconf("SC_CLK_TCK")
# Production settings need these from the environment; on loopback the development values are fine.
PRODUCTION_ENV = {
    "DEBUG": "0", "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECRET_KEY": "dev-only-secret-key-never-use-in-production-3c1f8a0e7b5d",
    "FIELD_ENCRYPTION_KEY": "ZGV2LW9ubHktZmllbGQta2V5LW5ldmVyLWluLXByb2Q=",
    "BLIND_INDEX_KEY": "dev-only-blind-index-key-never-use-in-production",
    "API_RATE_LIMIT": "1000000/s", "LOG_LEVEL": "WARNING",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Worker(threading.Thread):
    def __init__(self, port: int, path: str, headers: dict, start_at: float, stop_at: float, measure_from: float):
        super().__init__(daemon=True)
        self.port, self.path, self.headers = port, path, headers
        self.start_at, self.stop_at, self.measure_from = start_at, stop_at, measure_from
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}

    def run(self):
        connection = HTTPConnection("127.0.0.1", self.port, timeout=30)
        while time.perf_counter() < self.start_at:
            time.sleep(0.001)
        while True:
            began = time.perf_counter()
            if began >= self.stop_at:
                break
            try:
                connection.request("GET", self.path, headers=self.headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, ConnectionError, TimeoutError):
                status = 0
                connection.close()
                connection = HTTPConnection("127.0.0.1", self.port, timeout=30)
            ended = time.perf_counter()
            if began < self.measure_from:
                continue
            if status == 200:
                self.latencies.append(ended - began)
            else:
                self.errors += 1
                self.statuses[status] = self.statuses.get(status, 0) + 1
        connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def drive(port: int, server_pid: int, path: str, headers: dict, concurrency: int, seconds: float,
          warmup: float) -> dict:
    """``concurrency`` keep-alive clients on ``path`` for warm-up + ``seconds``; figures of the measured part."""
    start_at = time.perf_counter() + 0.2
    measure_from = start_at + warmup
    stop_at = measure_from + seconds
    workers = [Worker(port, path, headers, start_at, stop_at, measure_from) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    while time.perf_counter() < measure_from:
        time.sleep(0.005)
    server_before, client_before, machine_before = process_cpu(server_pid), time.process_time(), machine_cpu()
    wall_before = time.perf_counter()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - wall_before
    server_cpu, client_cpu = process_cpu(server_pid) - server_before, time.process_time() - client_before
    busy, total = (after - before for after, before in zip(machine_cpu(), machine_before, strict=True))
    latencies = [value for worker in workers for value in worker.latencies]
    errors = sum(worker.errors for worker in workers)
    statuses: dict[int, int] = {}
    for worker in workers:
        for status, count in worker.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    done = len(latencies)
    return {
        "path": path.split("?")[0], "concurrency": concurrency, "seconds": round(wall, 2), "requests": done,
        "requests_per_s": round(done / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "errors": errors, "error_statuses": statuses,
        "server_cpu_share_of_one_core": round(server_cpu / wall, 3),
        "client_cpu_ms_per_request": round(client_cpu * 1000 / max(done + errors, 1), 3),
        "client_cpu_share_of_one_core": round(client_cpu / wall, 3),
        "machine_cpu_busy": round(busy / total, 3) if total else None,
    }


def server_connections() -> int:
    """The database connections open now, this process's own excepted."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        count = cursor.fetchone()[0]
    connection.close()
    return count


def wait_until_up(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"daphne exited with {server.returncode}")
        try:
            connection = HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("daphne did not answer within a minute")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=30, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=3, help="untimed seconds before each level")
    parser.add_argument("--healthz-seconds", type=float, default=10,
                        help="measured seconds per level against /healthz (0: skip)")
    parser.add_argument("--conn-max-age", help="DB_CONN_MAX_AGE for the server (default: the settings' default)")
    parser.add_argument("--access-log", action="store_true", help="let daphne write its access log (to /dev/null)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to an empty PostgreSQL database (see the docstring).")
    os.environ.update(PRODUCTION_ENV)
    if args.conn_max_age is not None:
        os.environ["DB_CONN_MAX_AGE"] = args.conn_max_age
    set_up_django()
    import api_calls  # the same rows as the latency benchmark
    from django.db import connection

    began = time.perf_counter()
    tenant = api_calls.seed([args.calls], random.Random(0))[0]
    seed_seconds = time.perf_counter() - began
    connection.close()
    port = free_port()
    daphne = Path(sys.executable).with_name("daphne")
    command = [str(daphne), "-b", "127.0.0.1", "-p", str(port)]
    if not args.access_log:
        command += ["--verbosity", "0"]
    log = Path(os.environ["CALLKOM_VAR_DIR"]) / "daphne.log"  # a file, not a pipe: a full pipe would stall it
    with log.open("w") as stderr:
        server = subprocess.Popen([*command, "callkom.asgi:application"], cwd=BASE, env=dict(os.environ),
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    results = {"calls": [], "healthz": []}
    try:
        wait_until_up(port, server)
        headers = {"Authorization": f"Api-Key {tenant['key']}", "Accept": "application/json"}
        check = HTTPConnection("127.0.0.1", port, timeout=10)
        check.request("GET", "/api/v1/calls/", headers=headers)
        response = check.getresponse()
        body = json.loads(response.read())
        check.close()
        if response.status != 200 or len(body["results"]) != 50:
            raise SystemExit(f"GET /api/v1/calls/ answered {response.status}: {str(body)[:300]}")
        for concurrency in args.concurrency:
            row = drive(port, server.pid, "/api/v1/calls/", headers, concurrency, args.seconds, args.warmup)
            results["calls"].append({**row, "db_connections_after": server_connections()})
        if args.healthz_seconds:
            for concurrency in args.concurrency:
                row = drive(port, server.pid, "/healthz", {}, concurrency, args.healthz_seconds, min(args.warmup, 2))
                results["healthz"].append({**row, "db_connections_after": server_connections()})
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    errors = log.read_text(errors="replace")
    result = {"database": "postgresql", "calls_in_tenant": args.calls, "seed_seconds": round(seed_seconds, 1),
              "db_conn_max_age": os.environ.get("DB_CONN_MAX_AGE", "settings default"), "nproc": os.cpu_count(),
              "load_average_before": os.getloadavg(), **results}
    if args.json:
        print(json.dumps(result))
        return
    print(f"daphne on 127.0.0.1, {os.cpu_count()} cores, tenant with {args.calls:,} calls; {args.seconds:.0f} s per "
          f"level after {args.warmup:.0f} s warm-up")
    print(f"{'path':<16} {'conc.':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} "
          f"{'daphne CPU':>10} {'client CPU ms/req':>17} {'machine CPU':>11} {'DB conns':>8}")
    for row in results["calls"] + results["healthz"]:
        print(f"{row['path']:<16} {row['concurrency']:>5} {row['requests_per_s']:>8.1f} {row['p50_ms']:>8} "
              f"{row['p95_ms']:>8} {row['p99_ms']:>8} {row['errors']:>6} "
              f"{row['server_cpu_share_of_one_core']:>10.0%} {row['client_cpu_ms_per_request']:>17.3f} "
              f"{row['machine_cpu_busy']:>11.0%} {row['db_connections_after']:>8}")
    if errors and errors.strip():
        print("daphne's stderr (last lines):\n" + "\n".join(errors.strip().splitlines()[-10:]))
    print(json.dumps(result))
    if "CALLKOM_VAR_DIR" in os.environ:
        shutil.rmtree(os.environ["CALLKOM_VAR_DIR"], ignore_errors=True)


if __name__ == "__main__":
    main()
