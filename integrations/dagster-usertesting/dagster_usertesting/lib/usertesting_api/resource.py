"""`UserTestingResource`: the Dagster resource that assets, the sensor and the CLI use to call UserTesting.

Each field is a `USERTESTING_*` variable (ut_dagster/environment.py parses them); secrets are
passed as `dagster.EnvVar` so their values never reach run config, the UI, logs or metadata.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from datetime import date

import httpx
from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from dagster_usertesting.lib.usertesting_api.auth import TokenProvider
from dagster_usertesting.lib.usertesting_api.client import MAX_PAGE_SIZE, UserTestingClient
from dagster_usertesting.lib.usertesting_api.errors import UserTestingConfigError
from dagster_usertesting.lib.usertesting_api.lease import DEFAULT_TTL_SECONDS, StepLeases
from dagster_usertesting.lib.usertesting_api.rate_limit import SharedRateLimiter, store_key
from dagster_usertesting.lib.usertesting_api.stats import RequestStats
from dagster_usertesting.lib.usertesting_api.transport import ApiTransport, RetryPolicy
from dagster_usertesting.lib.usertesting_api.usage import (
    DailyUsage,
    RequestCounter,
    request_counter,
    utc_today,
)

DEFAULT_BASE_URL = "https://api.use2.usertesting.com"
DEFAULT_TOKEN_URL = "https://auth.usertesting.com/oauth2/aus1p3vtd8vtm4Bxv0h8/v1/token"
DEFAULT_SCOPE = "studies:read"
# A redis:// store URL may carry a password, so it is treated as a secret too.
SECRET_SETTINGS = ("USERTESTING_ACCESS_TOKEN", "USERTESTING_CLIENT_SECRET", "USERTESTING_RATE_LIMIT_STORE")


class UserTestingResource(ConfigurableResource):
    """The UserTesting Results API for one credential, paced to its limit (default 10 requests/minute)."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="USERTESTING_BASE_URL")
    access_token: str | None = Field(default=None, description="USERTESTING_ACCESS_TOKEN (secret)")
    client_id: str | None = Field(default=None, description="USERTESTING_CLIENT_ID")
    client_secret: str | None = Field(default=None, description="USERTESTING_CLIENT_SECRET (secret)")
    token_url: str = Field(default=DEFAULT_TOKEN_URL, description="USERTESTING_TOKEN_URL")
    scope: str = Field(default=DEFAULT_SCOPE, description="USERTESTING_SCOPE")
    requests_per_minute: int = Field(default=10, description="USERTESTING_REQUESTS_PER_MINUTE")
    rate_window_seconds: float = Field(
        default=60.0, description="USERTESTING_RATE_WINDOW_SECONDS: length of the rate-limit window."
    )
    rate_limit_store: str | None = Field(
        default=None,
        description="USERTESTING_RATE_LIMIT_STORE: SQLite file path or redis:// URL shared by every process "
        "using this credential; None keeps the budget in this process only.",
    )
    max_concurrent_requests: int = Field(default=1, description="USERTESTING_MAX_CONCURRENT_REQUESTS")
    connect_timeout_seconds: float = Field(default=10.0, description="USERTESTING_CONNECT_TIMEOUT_SECONDS")
    read_timeout_seconds: float = Field(default=60.0, description="USERTESTING_READ_TIMEOUT_SECONDS")
    page_size: int = Field(default=MAX_PAGE_SIZE, description="USERTESTING_PAGE_SIZE (1-500)")
    max_retries: int = Field(default=5, description="USERTESTING_MAX_RETRIES for 5xx and network errors")
    backoff_base_seconds: float = Field(default=1.0, description="USERTESTING_BACKOFF_BASE_SECONDS")
    backoff_max_seconds: float = Field(default=60.0, description="USERTESTING_BACKOFF_MAX_SECONDS")
    step_lease_seconds: float = Field(
        default=DEFAULT_TTL_SECONDS,
        description="USERTESTING_STEP_LEASE_SECONDS: how long a test's API step stays held after its "
        "process died (a live holder renews it every third of this); a sync started after a crash waits "
        "that long.",
    )

    _client: UserTestingClient | None = PrivateAttr(default=None)
    _closers: list = PrivateAttr(default_factory=list)
    _leases: StepLeases | None = PrivateAttr(default=None)
    _counter: RequestCounter | None = PrivateAttr(default=None)
    _limiter: SharedRateLimiter | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._client = None
        self.check_settings()

    def check_settings(self) -> None:
        """Raise UserTestingConfigError naming the first unusable setting; sends nothing.

        A wrong setting would otherwise surface as retried network errors (a base URL without a
        scheme cost 5 retries and 53 s) or a confusing answer.
        """
        _check_url("USERTESTING_BASE_URL", self.base_url, DEFAULT_BASE_URL)
        if not self.access_token:
            _check_url("USERTESTING_TOKEN_URL", self.token_url, DEFAULT_TOKEN_URL)
        minimums: list[tuple[str, float, float, bool]] = [
            ("USERTESTING_REQUESTS_PER_MINUTE", self.requests_per_minute, 1, False),
            ("USERTESTING_RATE_WINDOW_SECONDS", self.rate_window_seconds, 0, True),
            ("USERTESTING_MAX_CONCURRENT_REQUESTS", self.max_concurrent_requests, 1, False),
            ("USERTESTING_CONNECT_TIMEOUT_SECONDS", self.connect_timeout_seconds, 0, True),
            ("USERTESTING_READ_TIMEOUT_SECONDS", self.read_timeout_seconds, 0, True),
            ("USERTESTING_PAGE_SIZE", self.page_size, 1, False),
            ("USERTESTING_MAX_RETRIES", self.max_retries, 0, False),
            ("USERTESTING_BACKOFF_BASE_SECONDS", self.backoff_base_seconds, 0, False),
            ("USERTESTING_BACKOFF_MAX_SECONDS", self.backoff_max_seconds, 0, False),
            ("USERTESTING_STEP_LEASE_SECONDS", self.step_lease_seconds, 0, True),
        ]
        for name, value, minimum, exclusive in minimums:
            if value < minimum or (exclusive and value == minimum):
                bound = f"more than {minimum:g}" if exclusive else f"at least {minimum:g}"
                raise UserTestingConfigError(f"{name} must be {bound}, got {value:g}.")
        if self.page_size > MAX_PAGE_SIZE:
            raise UserTestingConfigError(
                f"USERTESTING_PAGE_SIZE must be at most {MAX_PAGE_SIZE} (the API's limit), got {self.page_size}."
            )
        store = self.rate_limit_store
        if store and "://" in store and not store.startswith(("redis://", "rediss://")):
            # The value may hold a password: name the setting, never echo it.
            raise UserTestingConfigError(
                "USERTESTING_RATE_LIMIT_STORE must be a SQLite file path or a redis:// or rediss:// URL."
            )

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.close()

    def get_client(self, max_budget_wait: float | None = None) -> UserTestingClient:
        """The client for this resource instance (created once; counters accumulate on it).

        `max_budget_wait` bounds how long one request may wait for the shared rate budget: past it,
        the request raises BudgetUnavailableError without sending or spending anything. The sensor
        uses it so a tick never outlives Dagster's sensor timeout; runs leave it None (wait).
        """
        if max_budget_wait is not None and max_budget_wait < 0:
            raise ValueError(f"max_budget_wait must be at least 0 seconds, got {max_budget_wait}.")
        if self._client is None:
            self._client = self._build_client()
        if max_budget_wait is None:
            return self._client
        return self._client.with_budget_wait(max_budget_wait)

    def step_lease(self, name: str, holder: str, wait_seconds: float = 0.0) -> AbstractContextManager[None]:
        """Hold the API step lease `name` (e.g. per test) for `holder` (e.g. a run id) in a `with` block.

        Shared by every process using this credential and USERTESTING_RATE_LIMIT_STORE, whatever
        started it; raises StepBusyError, having requested nothing, when another holder keeps it longer
        than `wait_seconds`. See lease.py.
        """
        if self._leases is None:
            self.check_settings()  # a store URL that is neither Redis nor a path must not become a file
            self._leases = StepLeases(self.rate_limit_store, self._credential_key(), self.step_lease_seconds)
        return self._leases.hold(name, holder, wait_seconds)

    def credential_label(self) -> str:
        """The name the shared store gives this credential: a hash, safe to show (never the credential)."""
        return store_key(self._credential_key())

    def daily_requests_per_credential(self, since: date) -> list[DailyUsage]:
        """Requests per endpoint and UTC day from `since` on, of every credential sharing
        USERTESTING_RATE_LIMIT_STORE, as every process counted them there. Sends nothing."""
        return self._request_counter().daily(since)

    def requests_in_window(self) -> int:
        """Requests every process sharing USERTESTING_RATE_LIMIT_STORE was granted for this credential
        in the current rate window (0..requests_per_minute). Sends nothing."""
        if self._limiter is None:
            self._client = self._client or self._build_client()
        assert self._limiter is not None
        return self._limiter.used_in_window()

    def requests_today(self) -> int:
        """Requests counted for this credential since 00:00 UTC (usage.py), by every process. Sends nothing."""
        label = self.credential_label()
        today = utc_today()
        return sum(d.total for d in self.daily_requests_per_credential(today) if d.credential == label)

    def daily_limit(self) -> int:
        """Requests the credential may send in a UTC day at the configured pace (14,400 at 10/min)."""
        return int(self.requests_per_minute * 86_400 / self.rate_window_seconds)

    def close(self) -> None:
        for close in self._closers:
            close()
        self._closers.clear()
        self._client = None
        self._limiter = None
        if self._leases is not None:
            self._leases.close()
            self._leases = None
        if self._counter is not None:
            self._counter.close()
            self._counter = None

    def _request_counter(self) -> RequestCounter:
        if self._counter is None:
            self.check_settings()  # a store URL that is neither Redis nor a path must not become a file
            self._counter = request_counter(self.rate_limit_store, self.credential_label())
        return self._counter

    def http_transport(self) -> httpx.BaseTransport | None:
        """The httpx transport under every API request and download; None: httpx's network transport.

        Public so a subclass can route requests elsewhere (a corporate proxy's transport, a recording,
        the sandbox in process: dagster_usertesting/testing/in_process.py) while auth, the shared rate
        limit, retries and paging above the socket stay this class's code.
        """
        return None

    def _credential_key(self) -> str:
        # The budget and the step leases belong to the credential: processes using the same one share
        # them. The stores only ever see a hash of this.
        return self.client_id or hashlib.sha256((self.access_token or "").encode()).hexdigest()

    def _build_client(self) -> UserTestingClient:
        self.check_settings()
        timeout = httpx.Timeout(self.read_timeout_seconds, connect=self.connect_timeout_seconds)
        api = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "ut-dagster"},
            transport=self.http_transport(),
        )
        downloads = httpx.Client(timeout=timeout, follow_redirects=True, transport=self.http_transport())
        tokens = TokenProvider(
            api,
            access_token=self.access_token,
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_url=self.token_url,
            scope=self.scope,
            shared_as=self.rate_limit_store,
        )
        limiter = SharedRateLimiter(
            self.requests_per_minute, self.rate_window_seconds, self.rate_limit_store, self._credential_key()
        )
        policy = RetryPolicy(
            max_retries=self.max_retries,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
        )
        stats = RequestStats(shared=self._request_counter().record)
        transport = ApiTransport(api, tokens, limiter, stats, policy, self.max_concurrent_requests)
        self._limiter = limiter
        self._closers = [api.close, downloads.close, limiter.close]
        return UserTestingClient(transport, downloads, self.page_size)


def _check_url(name: str, value: str, example: str) -> None:
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise UserTestingConfigError(
            f"{name} must be an http(s) URL with a host, such as {example}; got {value!r}. "
            "Add the https:// scheme if it is missing."
        )
