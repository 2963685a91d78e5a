"""The shared rate limiter against real stores: a SQLite file, a Redis-protocol server, real HTTP."""

import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster_usertesting_tests.usertesting.redis_proxy import HoldingRedisProxy
from filelock import FileLock

from dagster_usertesting.lib.usertesting_api.errors import BudgetUnavailableError, UserTestingUnavailableError
from dagster_usertesting.lib.usertesting_api.rate_limit import SharedRateLimiter
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
from dagster_usertesting.testing import SURVEY, StudySpec

SESSION = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def granted(limiter: SharedRateLimiter, attempts: int) -> int:
    count = 0
    for _ in range(attempts):
        try:
            limiter.acquire(max_wait=0)
        except BudgetUnavailableError:
            continue
        count += 1
    return count


@pytest.mark.parametrize("shared", [True, False], ids=["sqlite", "in_memory"])
def test_the_budget_used_and_what_the_server_leaves_are_counted_to_the_request(tmp_path, shared):
    # The sensor sizes its probes by `used_in_window`, and the server's rate headers pull the budget
    # down by it: one off means a probe too many (a 429) or a test never probed.
    store = str(tmp_path / "budget.sqlite") if shared else None
    limiter = SharedRateLimiter(7, 60, store, "credential")
    try:
        for taken in range(7):
            assert limiter.used_in_window() == taken
            limiter.acquire(max_wait=0)
        assert limiter.used_in_window() == 7
    finally:
        limiter.close()
    # Grants older than the window (0.01 s + the 0.5 s margin) no longer count.
    limiter = SharedRateLimiter(2, 0.01, store and f"{store}.short", "credential")
    try:
        assert granted(limiter, 2) == 2
        time.sleep(0.6)  # the window passing (not a wait for another thread)
        assert limiter.used_in_window() == 0
    finally:
        limiter.close()
    for remaining in (6, 3, 0):
        limiter = SharedRateLimiter(7, 60, store and f"{store}.{remaining}", "credential")
        try:
            limiter.acquire(max_wait=0)
            limiter.match_remaining(remaining)
            assert limiter.used_in_window() == 7 - remaining
            assert granted(limiter, 7) == remaining
        finally:
            limiter.close()


def test_exhaust_waits_for_a_busy_sqlite_lock_instead_of_doing_nothing(tmp_path):
    store = str(tmp_path / "budget.sqlite")
    limiter = SharedRateLimiter(5, 60, store, "credential", lock_timeout=0.2)
    try:
        # Another process in the middle of taking budget holds the store's lock.
        busy = pytest.raises(UserTestingUnavailableError, match="USERTESTING_RATE_LIMIT_STORE")
        with FileLock(store + ".lock"), busy:
            limiter.exhaust()
        limiter.exhaust()
        assert granted(limiter, 5) == 0
    finally:
        limiter.close()


def test_server_remaining_below_ours_pulls_the_shared_budget_down(start_sandbox, api_resource, tmp_path):
    # Another host spends 6 of the credential's 10 without sharing our store. One request tells us,
    # through x-ratelimit-remaining, that 3 are left: every process sharing our store may take only
    # those 3 (not the 9 we believed), so several of them sending at once cannot run into 429s.
    sandbox = start_sandbox(studies=(StudySpec(SURVEY, 7),), requests_per_window=10, window_seconds=60)
    session_ids = sandbox.dataset.session_ids(sandbox.test_ids[0])
    elsewhere = api_resource(sandbox, rate_limit_store=str(tmp_path / "other-host.sqlite")).get_client()
    for session_id in session_ids[:6]:
        elsewhere.get_session_details(session_id)
    resource = api_resource(sandbox)
    resource.get_client().get_session_details(session_ids[6])

    sharing = SharedRateLimiter(10, 60, resource.rate_limit_store, sandbox.config.client_id)
    try:
        assert granted(sharing, 10) == 3
    finally:
        sharing.close()
    assert [r["status"] for r in sandbox.requests] == [200] * 7


class _RateLimitedOnce(BaseHTTPRequestHandler):
    """Answers the first request 429 with x-ratelimit-reset: 1, then 200s; logs arrival times."""

    def do_GET(self) -> None:
        import time

        server = self.server
        server.arrivals.append(time.monotonic())  # type: ignore[attr-defined]
        first = len(server.arrivals) == 1  # type: ignore[attr-defined]
        body = b'{"statusCode": 429}' if first else b'{"sessionId": "%s"}' % SESSION.encode()
        self.send_response(429 if first else 200)
        self.send_header("content-type", "application/json")
        self.send_header("x-ratelimit-limit", "10")
        self.send_header("x-ratelimit-remaining", "0" if first else "9")
        self.send_header("x-ratelimit-reset", "1")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def rate_limited_once_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RateLimitedOnce)
    server.arrivals = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    yield f"http://{host}:{port}", server.arrivals  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()
    thread.join()


def test_after_a_429_nothing_is_sent_before_its_reset(rate_limited_once_url, tmp_path):
    # Our window (0.2 s + 0.5 s margin) is shorter than the server's reset (1 s): the reset wins.
    url, arrivals = rate_limited_once_url
    resource = UserTestingResource(
        base_url=url,
        access_token="static-token",
        requests_per_minute=50,
        rate_window_seconds=0.2,
        rate_limit_store=str(tmp_path / "budget.sqlite"),
    )
    try:
        client = resource.get_client()
        assert client.get_session_details(SESSION) == {"sessionId": SESSION}
        assert client.stats.rate_limited_responses == 1
    finally:
        resource.close()
    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0


def test_redis_budget_holds_across_hosts_whose_clocks_differ(redis_url):
    # Another host whose clock runs 2 s ahead takes what it can, then we do: 10 in all, not 20.
    script = textwrap.dedent(
        """
        import sys, time
        real = time.time_ns
        time.time_ns = lambda: real() + 2_000_000_000
        time.time = lambda: time.time_ns() / 1e9
        from dagster_usertesting.lib.usertesting_api.errors import BudgetUnavailableError
        from dagster_usertesting.lib.usertesting_api.rate_limit import SharedRateLimiter
        limiter = SharedRateLimiter(10, 60, sys.argv[1], "credential")
        count = 0
        for _ in range(10):
            try:
                limiter.acquire(max_wait=0)
                count += 1
            except BudgetUnavailableError:
                pass
        limiter.close()
        print(count)
        """
    )
    ahead = subprocess.run(
        [sys.executable, "-c", script, redis_url], capture_output=True, text=True, timeout=120, check=True
    )
    limiter = SharedRateLimiter(10, 60, redis_url, "credential")
    try:
        here = granted(limiter, 10)
    finally:
        limiter.close()
    assert int(ahead.stdout) + here == 10


def test_a_bounded_client_does_not_wait_out_a_longer_429_reset(rate_limited_once_url, tmp_path):
    url, arrivals = rate_limited_once_url
    resource = UserTestingResource(
        base_url=url, access_token="static-token", rate_limit_store=str(tmp_path / "budget.sqlite")
    )
    try:
        with pytest.raises(BudgetUnavailableError, match="429"):
            resource.get_client(max_budget_wait=0.5).get_session_details(SESSION)
    finally:
        resource.close()
    assert len(arrivals) == 1


def test_a_take_that_reaches_redis_late_still_counts_what_was_taken_meanwhile(redis_url):
    # One process's request to take budget is slow to reach Redis (a slow link, or the process was
    # descheduled after reading the clock); meanwhile another process takes the whole window. The late
    # one must see that budget as spent: 4 grants in all, never 5.
    proxy = HoldingRedisProxy(redis_url, hold=(b"EVALSHA", b"EVAL"))
    late = SharedRateLimiter(4, 60, proxy.url, "credential")
    prompt = SharedRateLimiter(4, 60, redis_url, "credential")
    late_grants: list[int] = []
    taker = threading.Thread(target=lambda: late_grants.append(granted(late, 1)))
    try:
        taker.start()
        assert proxy.held.wait(timeout=60), "the late take never reached the proxy"
        prompt_grants = granted(prompt, 4)
        proxy.release.set()
        taker.join(timeout=60)
    finally:
        proxy.close()
        late.close()
        prompt.close()
    assert prompt_grants + late_grants[0] == 4
