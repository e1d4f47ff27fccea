"""Settings: one frozen Struct, read from ``TENURE_*`` environment variables by the CLI.

Nothing reads the environment at import; ``create_app(settings)`` and the CLI
pass a Settings object down, and tests build their own.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path

import msgspec

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """``schemas/`` (or ``policies/``): inside an installed wheel, else at the repository top."""
    packaged = _PACKAGE / "_data" / name
    return packaged if packaged.is_dir() else _PACKAGE.parent / name


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str = "sqlite:///./tenure.db"
    database_schema: str | None = None  # PostgreSQL search_path
    database_pool_size: int = 10
    database_wait_seconds: float = 15  # for a free connection, then 503 with Retry-After
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: bytes  # HMAC key for token hashes
    public_url: str | None = None  # e.g. https://tenure.example.com; else taken from requests
    log_level: str = "info"
    max_payload_size: int = 1_048_576  # bytes; advertised in ServiceProviderConfig
    default_count: int = 100
    max_results: int = 1000
    bulk_max_operations: int = 1000
    # Non-human identities: default lifetimes by kind, the hardExpiresAt default,
    # and how deep delegation (an Agent's parent chain) may go.
    nhi_lifetime_days_agent: int = 90
    nhi_lifetime_days_service_account: int = 365
    nhi_hard_cap_days: int = 730
    delegation_max_depth: int = 3
    # How long an owner's attestation counts, how long an identity stays suspended
    # before it may be torn down, and how long an orphan waits for a new owner.
    nhi_attestation_days: int = 90
    nhi_teardown_grace_hours: int = 168
    nhi_orphan_grace_hours: int = 72
    nhi_attestation_grace_hours: int = 168  # overdue this long before suspension
    # The lifecycle sweeper: off for API-only replicas; how often it runs at least.
    scheduler: bool = True
    sweep_interval_seconds: int = 60
    # A sweep stops rather than suspend more than this share of a tenant's active
    # identities at once (unless fewer than the minimum are due).
    # E-mail to owners, when a server is given (else webhooks only).
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = "tenure@localhost"
    blast_radius_percent: int = 20
    blast_radius_minimum: int = 10
    # Owners are warned this many days before an identity's end.
    nhi_warning_days: str = "14,3,1"

    @property
    def warning_days(self) -> tuple[int, ...]:
        return tuple(sorted({int(d) for d in self.nhi_warning_days.split(",") if d.strip()}))

    token_touch_interval: int = 60  # seconds between last_used_at writes
    token_cache_seconds: int = 5  # how long a replica may serve a token row from memory
    schemas_dir: str = ""

    policies_dir: str = ""

    @property
    def schemas_path(self) -> Path:
        return Path(self.schemas_dir) if self.schemas_dir else data_dir("schemas")

    @property
    def policies_path(self) -> Path:
        return Path(self.policies_dir) if self.policies_dir else data_dir("policies")


class ConfigError(ValueError):
    pass


_INTS = {
    "TENURE_SMTP_PORT": "smtp_port",
    "TENURE_BLAST_RADIUS_PERCENT": "blast_radius_percent",
    "TENURE_BLAST_RADIUS_MINIMUM": "blast_radius_minimum",
    "TENURE_SWEEP_INTERVAL_SECONDS": "sweep_interval_seconds",
    "TENURE_PORT": "port",
    "TENURE_DATABASE_POOL_SIZE": "database_pool_size",
    "TENURE_DATABASE_WAIT_SECONDS": "database_wait_seconds",
    "TENURE_MAX_PAYLOAD_SIZE": "max_payload_size",
    "TENURE_DEFAULT_COUNT": "default_count",
    "TENURE_MAX_RESULTS": "max_results",
    "TENURE_BULK_MAX_OPERATIONS": "bulk_max_operations",
    "TENURE_NHI_LIFETIME_DAYS_AGENT": "nhi_lifetime_days_agent",
    "TENURE_NHI_LIFETIME_DAYS_SERVICE_ACCOUNT": "nhi_lifetime_days_service_account",
    "TENURE_NHI_HARD_CAP_DAYS": "nhi_hard_cap_days",
    "TENURE_DELEGATION_MAX_DEPTH": "delegation_max_depth",
    "TENURE_NHI_ATTESTATION_DAYS": "nhi_attestation_days",
    "TENURE_NHI_TEARDOWN_GRACE_HOURS": "nhi_teardown_grace_hours",
    "TENURE_NHI_ORPHAN_GRACE_HOURS": "nhi_orphan_grace_hours",
    "TENURE_NHI_ATTESTATION_GRACE_HOURS": "nhi_attestation_grace_hours",
    "TENURE_TOKEN_TOUCH_INTERVAL": "token_touch_interval",
    "TENURE_TOKEN_CACHE_SECONDS": "token_cache_seconds",
}
_STRINGS = {
    "TENURE_SMTP_HOST": "smtp_host",
    "TENURE_SMTP_USERNAME": "smtp_username",
    "TENURE_SMTP_PASSWORD": "smtp_password",
    "TENURE_SMTP_FROM": "smtp_from",
    "TENURE_NHI_WARNING_DAYS": "nhi_warning_days",
    "TENURE_DATABASE_URL": "database_url",
    "TENURE_DATABASE_SCHEMA": "database_schema",
    "TENURE_HOST": "host",
    "TENURE_PUBLIC_URL": "public_url",
    "TENURE_LOG_LEVEL": "log_level",
    "TENURE_SCHEMAS_DIR": "schemas_dir",
    "TENURE_POLICIES_DIR": "policies_dir",
}
DEFAULT_SECRET_FILE = ".tenure-secret"


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for variable, field in _STRINGS.items():
        if env.get(variable):
            values[field] = env[variable]
    for variable, field in _INTS.items():
        if env.get(variable):
            try:
                values[field] = int(env[variable])
            except ValueError:
                raise ConfigError(f"{variable} must be an integer, not {env[variable]!r}") from None
    if env.get("TENURE_SMTP_STARTTLS"):
        values["smtp_starttls"] = env["TENURE_SMTP_STARTTLS"].strip().lower() in ("1", "on", "true")
    if env.get("TENURE_SCHEDULER"):
        switch = env["TENURE_SCHEDULER"].strip().lower()
        if switch not in ("on", "off"):
            raise ConfigError(f"TENURE_SCHEDULER must be on or off, not {switch!r}")
        values["scheduler"] = switch == "on"
    values["secret_key"] = _secret_key(env)
    if isinstance(values.get("public_url"), str):
        values["public_url"] = str(values["public_url"]).rstrip("/")
    settings = Settings(**values)  # type: ignore[arg-type]
    try:
        if any(d < 1 for d in settings.warning_days):
            raise ValueError
    except ValueError:
        raise ConfigError(
            "TENURE_NHI_WARNING_DAYS must be whole days before the end, e.g. 14,3,1"
        ) from None
    return settings


def public_base(settings: Settings) -> str:
    """Where people and clients reach Tenure, for links made outside a request (e-mails,
    webhooks, onboarding output): ``TENURE_PUBLIC_URL``, else the bind address, except a
    wildcard one (``0.0.0.0``, ``::``), which nobody can open: this machine's name then."""
    if settings.public_url:
        return settings.public_url
    host = settings.host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname() or "localhost"  # no DNS lookup: a start never waits
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def public_url_warning(settings: Settings) -> str | None:
    """What to tell an operator whose links may not reach people: no ``TENURE_PUBLIC_URL``
    while serving beyond this machine (None when it is set, or the bind is loopback)."""
    if settings.public_url or _loopback(settings.host):
        return None
    return (
        f"TENURE_PUBLIC_URL is not set: links in e-mails, webhooks and onboarding use "
        f"{public_base(settings)}; set it to the URL people and clients reach Tenure at"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret_key(env: Mapping[str, str]) -> bytes:
    """TENURE_SECRET_KEY, else the key in TENURE_SECRET_KEY_FILE (created on first use).

    Several replicas must share one key: set TENURE_SECRET_KEY for them. The
    file default serves the single-node quick start without a shared secret
    ever being written in the repository.
    """
    if env.get("TENURE_SECRET_KEY"):
        key = env["TENURE_SECRET_KEY"]
    else:
        path = Path(env.get("TENURE_SECRET_KEY_FILE") or DEFAULT_SECRET_FILE)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
        key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise ConfigError("the secret key must be at least 32 characters")
    return key.encode()
