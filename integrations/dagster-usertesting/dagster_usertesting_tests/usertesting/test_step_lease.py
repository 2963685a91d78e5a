"""Step leases between real processes, through the limiter's real stores (a SQLite file, a Redis server).

Each holder is a subprocess that takes a lease, says so, and keeps it until told to let go (or is
killed); the test process contends for the same lease as another sync would.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from dagster_usertesting.lib.usertesting_api.errors import UserTestingConfigError
from dagster_usertesting.lib.usertesting_api.lease import StepBusyError, StepLeases
from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource

CREDENTIAL = "client-id-of-the-team"
HOLDER_SCRIPT = textwrap.dedent(
    """
    import logging, sys
    from dagster_usertesting.lib.usertesting_api.lease import StepBusyError, StepLeases
    store, credential, name, holder, ttl, wait, journal = sys.argv[1:]
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    leases = StepLeases(store, credential, ttl_seconds=float(ttl))
    def note(line):
        with open(journal, "a") as out:
            out.write(line + "\\n")
    try:
        with leases.hold(name, holder, wait_seconds=float(wait)):
            note(holder + " in")
            print("held", flush=True)
            sys.stdin.readline()
            note(holder + " out")
    except StepBusyError as exc:
        print("busy:", exc, flush=True)
        sys.exit(3)
    print("released", flush=True)
    """
)


class Holder:
    """A process holding (or waiting for) one lease; `expect` reads its output up to a line."""

    def __init__(self, store: str, name: str, holder: str, journal: Path, ttl: float = 120, wait: float = 0):
        args = [store, CREDENTIAL, name, holder, str(ttl), str(wait), str(journal)]
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER_SCRIPT, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, prefix: str, timeout: float = 120) -> str:
        seen = []
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"exited ({self.process.wait()}) before {prefix!r}; said {seen}")
            if line.startswith(prefix):
                return line
            seen.append(line)

    def let_go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.expect("released")
        assert self.process.wait(timeout=60) == 0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=60)
        self._reader.join(timeout=60)


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path) -> str:
    """The limiter's store: a SQLite file, or a Redis server on 127.0.0.1."""
    if request.param == "sqlite":
        return str(tmp_path / "budget.sqlite")
    return request.getfixturevalue("redis_url")


@pytest.fixture
def holders():
    started: list[Holder] = []

    def start(*args, **kwargs) -> Holder:
        holder = Holder(*args, **kwargs)
        started.append(holder)
        return holder

    yield start
    for holder in started:
        holder.stop()


@pytest.fixture
def journal(tmp_path) -> Path:
    """Where holders note entering and leaving their lease, in the order it happened."""
    return tmp_path / "journal.txt"


def test_a_second_process_is_refused_with_the_holder_named_and_nothing_requested(store, holders, journal):
    first = holders(store, "test-1", "run-aaa", journal)
    first.expect("held")
    second = holders(store, "test-1", "run-bbb", journal)
    refusal = second.expect("busy:")
    assert second.process.wait(timeout=60) == 3
    assert "run-aaa" in refusal and "nothing was requested" in refusal

    first.let_go()
    leases = StepLeases(store, CREDENTIAL)
    try:
        with leases.hold("test-1", "run-ccc"):  # free again once released
            pass
    finally:
        leases.close()
    assert journal.read_text().splitlines() == ["run-aaa in", "run-aaa out"]


def test_a_waiting_process_gets_the_lease_only_after_the_holder_lets_go(store, holders, journal):
    first = holders(store, "test-1", "run-aaa", journal)
    first.expect("held")
    second = holders(store, "test-1", "run-bbb", journal, wait=120)
    assert "run-aaa" in second.expect("Waiting up to")  # tried, found it held, and waits
    first.let_go()
    second.expect("held")
    second.let_go()
    assert journal.read_text().splitlines() == ["run-aaa in", "run-aaa out", "run-bbb in", "run-bbb out"]


def test_a_holder_killed_with_sigkill_lets_go_after_the_ttl(store, holders, journal):
    crashed = holders(store, "test-1", "run-aaa", journal, ttl=1)
    crashed.expect("held")
    leases = StepLeases(store, CREDENTIAL, ttl_seconds=1)
    try:
        with pytest.raises(StepBusyError, match="run-aaa"), leases.hold("test-1", "run-bbb"):
            pass
        os.kill(crashed.process.pid, signal.SIGKILL)
        crashed.process.wait(timeout=60)
        # Waits for the condition (the lease expiring), bounded far beyond the 1 s ttl.
        with leases.hold("test-1", "run-bbb", wait_seconds=120):
            pass
    finally:
        leases.close()


def test_a_live_holder_keeps_its_lease_beyond_the_ttl(store, holders, journal):
    # The heartbeat renews it: a step longer than the ttl is not joined by a second one.
    holder = holders(store, "test-1", "run-aaa", journal, ttl=2)
    holder.expect("held")
    leases = StepLeases(store, CREDENTIAL, ttl_seconds=2)
    try:
        waited = pytest.raises(StepBusyError, match="after waiting 6 s")
        with waited, leases.hold("test-1", "run-bbb", wait_seconds=6):
            pass
    finally:
        leases.close()
    holder.let_go()


def test_different_steps_and_credentials_do_not_block_each_other(store, holders, journal):
    holders(store, "test-1", "run-aaa", journal).expect("held")
    same_credential = StepLeases(store, CREDENTIAL)
    other_credential = StepLeases(store, "another-client-id")
    try:
        with same_credential.hold("test-2", "run-bbb"), other_credential.hold("test-1", "run-ccc"):
            pass
        with pytest.raises(StepBusyError), same_credential.hold("test-1", "run-ddd"):
            pass
    finally:
        same_credential.close()
        other_credential.close()


@pytest.mark.parametrize("kind", ["sqlite", "redis", "none"])
def test_the_resource_shares_its_leases_with_every_resource_of_the_credential(kind, tmp_path, request):
    secret = "client-secret-value"
    location = {"sqlite": str(tmp_path / "budget.sqlite"), "none": None}.get(kind)
    if kind == "redis":
        location = request.getfixturevalue("redis_url")

    def resource(client_id: str) -> UserTestingResource:
        return UserTestingResource(client_id=client_id, client_secret=secret, rate_limit_store=location)

    sync, other_sync, other_team = resource(CREDENTIAL), resource(CREDENTIAL), resource("another-client-id")
    try:
        with sync.step_lease("test-1", "run-aaa"):
            refused = pytest.raises(StepBusyError, match="run-aaa")
            with refused, other_sync.step_lease("test-1", "run-bbb"):
                pass
            with other_team.step_lease("test-1", "run-ccc"):
                pass
        with other_sync.step_lease("test-1", "run-bbb"):
            pass
    finally:
        for each in (sync, other_sync, other_team):
            each.close()
    if kind == "sqlite":
        stored = Path(location).read_bytes()  # type: ignore[arg-type]
        assert CREDENTIAL.encode() not in stored and secret.encode() not in stored


RESOURCE_HOLDER_SCRIPT = textwrap.dedent(
    """
    import sys
    from dagster_usertesting.lib.usertesting_api.resource import UserTestingResource
    store, credential, seconds = sys.argv[1:]
    resource = UserTestingResource(
        client_id=credential, client_secret="s", rate_limit_store=store, step_lease_seconds=float(seconds)
    )
    held = resource.step_lease("test-1", "run-aaa")  # kept: a collected generator would let go
    held.__enter__()
    print("held", flush=True)
    sys.stdin.readline()
    """
)


def test_a_killed_holder_s_lease_lasts_the_resource_s_step_lease_seconds(tmp_path):
    store = str(tmp_path / "budget.sqlite")
    crashed = subprocess.Popen(
        [sys.executable, "-c", RESOURCE_HOLDER_SCRIPT, store, CREDENTIAL, "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert crashed.stdout is not None and crashed.stdout.readline().strip() == "held"
    finally:
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait(timeout=60)
    resource = UserTestingResource(client_id=CREDENTIAL, client_secret="s", rate_limit_store=store)
    try:
        # USERTESTING_STEP_LEASE_SECONDS=1 in the killed process: its hold ends a second after its
        # last renewal, far within this wait (the default 120 s would outlast it).
        with resource.step_lease("test-1", "run-bbb", wait_seconds=60):
            pass
    finally:
        resource.close()


def test_a_step_lease_of_zero_seconds_is_refused_naming_the_setting():
    with pytest.raises(UserTestingConfigError, match="USERTESTING_STEP_LEASE_SECONDS must be more than 0"):
        UserTestingResource(client_id=CREDENTIAL, client_secret="s", step_lease_seconds=0).check_settings()
