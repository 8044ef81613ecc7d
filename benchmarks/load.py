"""A bounded load test of the portal as deployed: gunicorn on 127.0.0.1, a real Celery worker and a
real JupyterHub. Clients search and edit their carts over REST for a fixed time while concurrent
checkouts run through the API; then every checkout must be ready and no request may have failed.

    .venv/bin/python -m benchmarks.load [--seconds 20] [--clients 8] [--checkouts 10] [--soak-minutes M]

Loopback only; it stops by itself. Prints requests per second for search and cart calls next to a
baseline of /healthz on the same server, error counts, checkouts ready/lost, and the worker's memory.
With --soak-minutes, rounds of the same (search and cart load, then the concurrent checkouts, which their
users stop through the API once ready) repeat until the time is up, one line per round, so that a leak
(memory growing round after round) or an error that only comes with time shows.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

DATA = Path(tempfile.mkdtemp(prefix="esap-load-"))
# As deployed: DEBUG off (with it on, Django keeps each connection's last 9 000 queries in memory, which a
# soak shows as a worker growing ~50 KiB a checkout); loopback hubs allowed, as this one is local.
os.environ.update({"ESAP_DATA_DIR": str(DATA), "DJANGO_SETTINGS_MODULE": "esap.settings", "ESAP_DEBUG": "false",
                   "ESAP_STATIC_ROOT": str(DATA / "static"), "ESAP_ALLOW_PRIVATE_URLS": "true",
                   "ESAP_LOG_LEVEL": "WARNING"})
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from esap.demo.load import load_demo  # noqa: E402
from esap.seeding import SEARCH_QUERIES, seed_datasets  # noqa: E402
from staging.checkout.states import TERMINAL  # noqa: E402
from tests.factories import make_user  # noqa: E402
from tests.servers.jupyterhub.localhub import LocalHub  # noqa: E402
from tests.servers.stack import free_port, wait_for_port  # noqa: E402
from tests.servers.worker import Worker  # noqa: E402


class Session:
    """One logged-in API client (session cookie + CSRF), standard library only."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base, self.jar = base, CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.call("GET", "/accounts/login/")
        self.call("POST", "/accounts/login/", form=f"login={username}&password={password}")

    def call(self, method: str, path: str, body: dict | None = None, form: str | None = None):
        csrf = next((c.value for c in self.jar if c.name == "csrftoken"), "")
        headers = {"X-CSRFToken": csrf, "Referer": self.base + "/"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data, headers["Content-Type"] = form.encode(), "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with self.opener.open(request, timeout=60) as response:
            raw = response.read()
            return json.loads(raw) if raw and "json" in response.headers.get("Content-Type", "") else None


def hammer(sessions: list[Session], seconds: float, work) -> tuple[int, int, list[float]]:
    """Each session's thread repeats `work` until time is up; (ok, errors, latencies)."""
    counts = {"ok": 0, "errors": 0}
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(session: Session) -> None:
        step = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                work(session, step)
                outcome = "ok"
            except (urllib.error.URLError, OSError, ValueError):
                outcome = "errors"
            with lock:
                counts[outcome] += 1
                latencies.append(time.perf_counter() - started)
            step += 1

    threads = [threading.Thread(target=loop, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["ok"], counts["errors"], latencies


def search_work(session: Session, step: int) -> None:
    session.call("GET", f"/api/datasets/?q={urllib.request.quote(SEARCH_QUERIES[step % len(SEARCH_QUERIES)])}")


def cart_work(session: Session, step: int) -> None:
    dataset = 1 + step % 50
    session.call("POST", "/api/cart/items/", {"dataset": dataset})
    items = session.call("GET", "/api/cart/")["items"]
    session.call("DELETE", f"/api/cart/items/{items[0]['id']}/")


def health_work(session: Session, step: int) -> None:
    session.call("GET", "/healthz")


def run_checkouts(base: str, count: int, prefix: str = "loader", *, stop: bool = False) -> tuple[int, int, float]:
    """`count` users check out at once through the API, and with `stop` end their launches through it
    as scientists do (a launch whose server did not stop counts as not ready); (ready, not, wall seconds)."""
    users = [make_user(f"{prefix}-{i}") for i in range(count)]
    results: list[str] = []
    reasons: list[str] = []

    def one(user) -> None:
        session = Session(base, user.username, user.raw_password)
        light_curve = session.call("GET", "/api/datasets/?q=crab+pulsar&source=local")["results"][0]["id"]
        session.call("POST", "/api/cart/items/", {"dataset": light_curve})
        workflow = session.call("GET", "/api/workflows/?q=light+curve")["results"][0]["id"]
        session.call("PUT", "/api/cart/workflow/", {"workflow": workflow})
        session.call("PUT", "/api/cart/facility/", {"facility": "local", "profile": "small"})
        checkout = session.call("POST", "/api/checkouts/")["id"]
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            body = session.call("GET", f"/api/checkouts/{checkout}/")
            state = body["state"]
            if state in TERMINAL:
                break
            time.sleep(0.5)
        if stop and state == "ready":
            state = stop_launch(session, checkout)
        elif stop and state == "failed":  # it may hold a server: cancelling removes it
            session.call("POST", f"/api/checkouts/{checkout}/cancel/")
        results.append(state)
        if state != "ready":
            reasons.append(f"{state}: {body['error_message']}")

    started = time.perf_counter()
    threads = [threading.Thread(target=one, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ready = results.count("ready")
    for reason in sorted(set(reasons)):
        print(f"    not ready: {reason}")
    return ready, count - ready, time.perf_counter() - started


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def report(name: str, ok: int, errors: int, latencies: list[float], seconds: float) -> None:
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))] if latencies else 0
    print(f"  {name:<22} {ok / seconds:>8.1f} req/s   p50 {statistics.median(latencies) * 1000:>6.1f} ms   "
          f"p95 {p95 * 1000:>6.1f} ms   errors {errors}")


def soak(base: str, sessions: list[Session], args: argparse.Namespace, worker: Worker,
         web: subprocess.Popen) -> None:
    ends, rounds, totals = time.monotonic() + args.soak_minutes * 60, 0, {"errors": 0, "ready": 0, "lost": 0}
    first_rss = None
    print(f"soak: rounds of {args.seconds:.0f} s search + {args.seconds:.0f} s cart load, then {args.checkouts} "
          f"checkouts, for {args.soak_minutes:g} min")
    while time.monotonic() < ends:
        rounds += 1
        searched, search_errors, _ = hammer(sessions, args.seconds, search_work)
        carted, cart_errors, _ = hammer(sessions, args.seconds, cart_work)
        ready, lost, wall = run_checkouts(base, args.checkouts, prefix=f"soak-{rounds}", stop=True)
        rss = {"worker": rss_mib(worker.process.pid), "web": sum(map(rss_mib, process_tree(web.pid)))}
        first_rss = first_rss or rss
        totals["errors"] += search_errors + cart_errors
        totals["ready"] += ready
        totals["lost"] += lost
        print(f"  round {rounds:>3}: search {searched / args.seconds:>6.1f} req/s, cart {carted / args.seconds:>5.1f} "
              f"req/s, errors {search_errors + cart_errors}, checkouts {ready} ready / {lost} not in {wall:.0f} s, "
              f"RSS worker {rss['worker']:.0f} MiB, web {rss['web']:.0f} MiB", flush=True)
    print(f"soak: {rounds} rounds, {totals['errors']} request errors, {totals['ready']} checkouts ready, "
          f"{totals['lost']} not; RSS from round 1 to {rounds}: worker {first_rss['worker']:.0f} -> "
          f"{rss['worker']:.0f} MiB, web {first_rss['web']:.0f} -> {rss['web']:.0f} MiB")


def stop_launch(session: Session, checkout: str) -> str:
    """"ready" once the portal reports the launch's server stopped (rounds must not pile servers up),
    else what went wrong."""
    session.call("POST", f"/api/checkouts/{checkout}/stop/")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        stopped = session.call("GET", f"/api/checkouts/{checkout}/events/")["terminal"]["server_stopped"]
        if stopped is not None:
            return "ready" if stopped else "server not stopped"
        time.sleep(0.5)
    return "server stop not reported"


def process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(tree_pid for child in children for tree_pid in process_tree(int(child)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--checkouts", type=int, default=10)
    parser.add_argument("--datasets", type=int, default=100_000)
    parser.add_argument("--soak-minutes", type=float, default=0)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    hub = LocalHub(http_timeout=120, start_timeout=300).start()
    load_demo(hub_url=hub.url, hub_token=hub.service_token)
    seed_datasets(args.datasets)
    worker = Worker(database=f"sqlite:///{settings.DATABASES['default']['NAME']}", broker_folder=DATA / "broker",
                    log_path=DATA / "worker.log", env={"ESAP_ALLOW_PRIVATE_URLS": "true"})
    worker.start()
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "esap.wsgi", "--bind", f"127.0.0.1:{port}",
                            "--worker-class", "gthread", "--workers", "2", "--threads", "8", "--log-level", "warning"],
                           cwd=ROOT, env=os.environ.copy())
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, web, "gunicorn")
        # Logged in once: allauth limits logins per address (30 a minute), as it should.
        sessions = [Session(base, user.username, user.raw_password)
                    for user in (make_user(f"client-{i}") for i in range(args.clients))]
        print(f"gunicorn (2 gthread workers x 8 threads), {args.clients} clients x {args.seconds:.0f} s, "
              f"{args.datasets} datasets")
        if args.soak_minutes:
            soak(base, sessions, args, worker, web)
            return
        for name, work in [("/healthz (baseline)", health_work), ("search /api/datasets/", search_work),
                           ("cart add/get/remove", cart_work)]:
            report(name, *hammer(sessions, args.seconds, work), args.seconds)
        idle = rss_mib(worker.process.pid)
        ready, lost, wall = run_checkouts(base, args.checkouts)
        print(f"{args.checkouts} concurrent checkouts over the API: {ready} ready, {lost} not ready, "
              f"{wall:.1f} s wall")
        print(f"worker RSS: {idle:.0f} MiB idle, {rss_mib(worker.process.pid):.0f} MiB after the checkouts")
    finally:
        web.terminate()
        web.wait(20)
        worker.stop()
        hub.stop()


if __name__ == "__main__":
    main()
