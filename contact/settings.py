"""Configuration of vt-contact: every setting comes from a flag or a `VT_*` environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All settings of one server process; see docs/operations.md for each one."""

    model_config = SettingsConfigDict(env_prefix="VT_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/vt-contact.db"
    redis_url: str | None = None
    # Pub/sub channel of the Socket.IO fan-out; separate environments sharing one Redis differ here.
    redis_channel: str = "vt-contact"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    secret_key: SecretStr | None = None
    # Secret keys VT_SECRET_KEY replaced (comma-separated): TOTP secrets sealed with one of them
    # still open, and are sealed again with the new key at their next use (contact/secretbox.py).
    secret_key_old: SecretStr | None = None
    chat_hours: str = "mon-fri 09:00-17:00"
    timezone: str = "Europe/Amsterdam"
    # Origins besides the server's own that may open a socket (the websites embedding the widget).
    allowed_origins: str = ""
    # Addresses of our own reverse proxies, whose X-Forwarded-For is believed (comma-separated).
    forwarded_allow_ips: str = ""

    # The absolute limit of an agent's session (logged in this long, it ends whatever happens).
    token_ttl_s: int = Field(default=10 * 3600, ge=60)
    # A session unused this long ends; the console warns a few minutes before.
    idle_timeout_s: int = Field(default=1800, ge=60)
    # Roles that must log in with a second factor (TOTP or a recovery code), comma-separated.
    totp_required_roles: str = "supervisor,admin"
    # How often each process checks the sessions of its open agent sockets against the
    # database (the fallback for a missed signal when an account changes).
    session_check_s: float = Field(default=2, gt=0)
    max_concurrent_chats: int = Field(default=3, ge=1)
    # A request's head (request line and headers) must arrive whole within this many seconds of
    # its first byte, or of the connection opening; else the connection is closed (slow-loris).
    header_timeout_s: float = Field(default=10, gt=0)
    # Engine.IO refuses larger packets; a 4,000-character message in 4-byte UTF-8 is 16 KiB.
    max_http_buffer_size: int = Field(default=64 * 1024, ge=16 * 1024)

    visitor_message_limit: int = Field(default=20, ge=1)
    visitor_message_window_s: int = Field(default=10, ge=1)
    start_limit_per_ip: int = Field(default=30, ge=1)
    # Concurrent Socket.IO connections from one address (per process): generous for a school or
    # a shelter behind one address, a wall against one machine opening thousands.
    max_connections_per_address: int = Field(default=200, ge=1)
    start_limit_window_s: int = Field(default=600, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: int = Field(default=300, ge=1)
    # Login tries per address (a keyed hash of it) in that window, successful ones included: an
    # office of advisors behind one address logs in at nine, a guesser from one address is slowed.
    login_max_per_address: int = Field(default=200, ge=1)

    # A waiting visitor whose connection is gone this long leaves the queue (coming back
    # with `resume` restores their place).
    waiting_grace_s: int = Field(default=120, ge=10)
    # The advisor who held a conversation may still record its outcome this long after the
    # visitor left (stop, quick exit); after that the scheduler records `geen` and tells the supervisors.
    outcome_grace_s: float = Field(default=86400, gt=0)
    # How often the elected scheduler looks for left conversations whose outcome is overdue.
    outcome_check_s: float = Field(default=60, gt=0)
    # A visitor's resume token stops working this long after the conversation's last activity
    # (start, a message, a resume, the visitor's connection going); a connected visitor keeps it alive.
    resume_ttl_s: float = Field(default=1800, ge=10)
    typing_limit: int = Field(default=30, ge=1)
    sweep_interval_s: float = Field(default=15, gt=0)

    # Used until enough conversations were accepted to estimate from real waiting times.
    default_wait_per_position_s: int = Field(default=120, ge=1)

    # Where quick exit sends a visitor: a neutral site, replacing our page in the history.
    quick_exit_url: str = "https://www.buienradar.nl/"

    # The routing rules (teams, priorities, rules) and the risk phrases; default: the packaged files.
    routing_file: str | None = None
    risk_phrases_file: str | None = None

    # Crisis: nobody acknowledged an alert this long after it went out → alert again, wider.
    crisis_realert_s: float = Field(default=60, ge=1)
    # How often the elected scheduler looks for crises due for another alert.
    crisis_check_s: float = Field(default=5, gt=0)
    # A crisis worker or supervisor asks the holder to hand a conversation over; without an
    # answer this long, they may take it over on their own authority.
    takeover_wait_s: float = Field(default=30, ge=0)
    # Advisor status: after closing a chat an advisor is in `nawerk` (no push offers) this long;
    # longer after a crisis or a melding. They may end it early. Supervisors' board: at most one
    # live snapshot per this many seconds per process, after changes.
    nawerk_s: float = Field(default=60, ge=0)
    nawerk_after_crisis_s: float = Field(default=300, ge=0)
    nawerk_after_melding_s: float = Field(default=300, ge=0)
    board_every_s: float = Field(default=1.0, gt=0)
    # The scheduler runs in one elected process; another takes over at most this long (plus a
    # third of it, the renewal interval) after it died: 3 s keeps crisis re-alerts going within 5 s.
    leader_ttl_s: float = Field(default=3, ge=1)
    scheduler_enabled: bool = True
    # Push mode: how long an agent has to take an offered conversation before the next one
    # gets it, and how often the scheduler looks for offers that are due (besides every queue change).
    push_offer_timeout_s: float = Field(default=30, ge=1)
    push_check_s: float = Field(default=2, gt=0)

    # Callbacks in tijdvakken: week pattern and block length per kind, places per tijdvak
    # unless the roster says otherwise, how late and how far ahead one can book.
    callback_hours: str = "mon-fri 09:00-17:00"
    callback_block_min: int = Field(default=60, ge=5)
    adviesgesprek_hours: str = "mon-fri 09:00-17:00"
    adviesgesprek_block_min: int = Field(default=45, ge=5)
    callback_capacity: int = Field(default=2, ge=0)
    adviesgesprek_capacity: int = Field(default=1, ge=0)
    callback_close_before_min: int = Field(default=60, ge=0)
    callback_horizon_days: int = Field(default=28, ge=1, le=366)
    callback_max_attempts: int = Field(default=3, ge=1)
    callback_retry_gap_min: int = Field(default=15, ge=1)
    callback_limit_per_ip: int = Field(default=20, ge=1)
    callback_limit_window_s: int = Field(default=3600, ge=1)
    # How often the scheduler looks for tijdvakken that start or end, reminders and e-mail to send.
    callback_check_s: float = Field(default=30, gt=0)
    # Key of the hashes that recognise a phone number or e-mail again (merging, repeat reports).
    # Required outside demo mode; keep it out of the database and the same everywhere.
    hash_key: SecretStr | None = None
    # Keys VT_HASH_KEY replaced (comma-separated, oldest first), during and after `keys rotate`.
    hash_key_old: SecretStr | None = None
    # Set by `serve --demo` (not meant as a variable): a hash key may then be kept in the database.
    demo: bool = False
    # Where callers reach the manage page of their booking (links in e-mails).
    public_url: str | None = None

    # Outgoing e-mail (confirmations and reminders of adviesgesprekken). Without a host the
    # e-mails wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Veilig Thuis <noreply@veiligthuis.example>"

    # Every database statement (PostgreSQL) and every wait for a pooled connection ends with an
    # error after this long, so a hung database answers the client quickly (`internal`, try again).
    db_statement_timeout_s: float = Field(default=5, gt=0)
    # How long a write waits for SQLite's write lock (held by another process) before it fails.
    db_lock_timeout_s: float = Field(default=10, gt=0)
    # /readyz: each check (database write, disk, Redis, fan-out) must answer within this.
    ready_timeout_s: float = Field(default=2, gt=0)
    # /readyz: an SQLite database needs at least this much free disk space (MiB) to be ready.
    ready_min_free_mb: int = Field(default=64, ge=0)
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "FULL"
    # SQLite: a thread of each process checkpoints the WAL this often (contact/checkpoints.py),
    # out of the commits; 0 leaves it to SQLite inside the commit that passes 1,000 pages.
    sqlite_checkpoint_s: float = Field(default=1, ge=0)
    # SQLite: past this WAL size (MiB) the checkpointer logs and waits briefly for long reads.
    sqlite_wal_limit_mb: int = Field(default=64, ge=1)
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # `GET /metrics` asks for `Authorization: Bearer <this>` when set (at least 16 characters);
    # without it only a direct request from this machine (loopback, not through a proxy) is served.
    metrics_token: SecretStr | None = None
    # The figures `/metrics` reads from the database are read at most this often (every process
    # scraped within this time reports the same), each read bounded by `ready_timeout_s`.
    metrics_cache_s: float = Field(default=5, ge=0)

    case_webhook_url: str | None = None
    case_webhook_secret: SecretStr | None = None
    # Several secrets at once while one is being replaced (comma-separated, the new one first):
    # every delivery is signed with each (Standard Webhooks `webhook-signature`, space-separated).
    case_webhook_secrets: SecretStr | None = None
    # Plain http to the case system only where nothing leaves the machine: tests, loopback, --demo.
    case_webhook_allow_http: bool = False
    # Delivery of handoffs to the webhook: tries before the dead-letter state, back-off, timeout.
    case_max_tries: int = Field(default=12, ge=1)
    case_retry_base_s: float = Field(default=2, gt=0)
    case_retry_max_s: float = Field(default=600, gt=0)
    case_timeout_s: float = Field(default=10, gt=0)
    case_poll_s: float = Field(default=1, gt=0)
    # A handoff being sent belongs to its worker this long; if that process dies, another
    # worker sends it after this time. Keep it well above the timeout.
    case_lease_s: float = Field(default=60, gt=0)
    # Retention of personal data (docs/privacy.md). The general time: each kind of contact is
    # purged this long after it ended, a handoff's payload this long after delivery, unless the
    # kind has its own time below. Fractional days are allowed (tests use seconds).
    retention_days: float = Field(default=30, ge=0)
    # The access log (NEN 7513) is kept this long; NEN 7513:2018 asks at least five years.
    access_log_retention_days: float = Field(default=5 * 365 + 1, ge=1)
    # The callback work list shows an advisor the tijdvakken of their teams this many days back
    # and as many ahead of today (supervisors and admins see every day).
    worklist_window_days: int = Field(default=7, ge=0, le=366)
    chat_retention_days: float | None = Field(default=None, ge=0)
    callback_retention_days: float | None = Field(default=None, ge=0)
    handoff_retention_days: float | None = Field(default=None, ge=0)
    # The keyed hashes that link a repeat report (hermelding) to an earlier one: as long as the
    # case system keeps the file the link points to (20 years, docs/privacy.md).
    hermelding_retention_days: float = Field(default=7305, ge=0)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not (value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")):
            raise ValueError("use sqlite+aiosqlite:///path or postgresql+asyncpg://…")
        return value

    @field_validator("case_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not (value.startswith("https://") or value.startswith("http://")):
            raise ValueError("the case webhook needs an http(s) address")
        return value

    @field_validator("quick_exit_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not (value.startswith("https://") or value.startswith("http://")):
            raise ValueError("quick exit needs an http(s) address")
        return value

    @property
    def trusted_proxies(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.forwarded_allow_ips.split(",") if a.strip())

    @property
    def totp_roles(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.totp_required_roles.split(",") if r.strip())

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(o.strip().rstrip("/") for o in self.allowed_origins.split(",") if o.strip())

    @property
    def sync_database_url(self) -> str:
        """The same database through a synchronous driver, for APScheduler 3.x's job store."""
        if self.database_url.startswith("sqlite+aiosqlite://"):
            return "sqlite://" + self.database_url[len("sqlite+aiosqlite://") :]
        return "postgresql+psycopg://" + self.database_url[len("postgresql+asyncpg://") :]

    def sqlite_path(self) -> Path | None:
        """The file of an SQLite database, or None for PostgreSQL."""
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :].split("?")[0])
        return None
