"""Settings read from ``ACADEMY_*`` environment variables.

Development gets working defaults (SQLite, an embedded broker, mail as files);
production refuses to start without the secrets and services it must not guess.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a deployment we are willing to run."""


def _reader(environ: Mapping[str, str]):
    def env(name: str, default: str | None = None) -> str | None:
        value = environ.get(name)
        return value if value not in (None, "") else default
    return env


def _dev_secret_key(instance_path: Path) -> str:
    """A key generated once per checkout, so sessions survive restarts."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _cors_origins(value: str, production: bool) -> frozenset[str]:
    """``ACADEMY_CORS_ORIGINS``: exact origins (``https://app.example.org``), comma-separated."""
    origins = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        parts = urlsplit(item)
        if (parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/")
                or parts.query or parts.fragment or "*" in item):
            raise ConfigError(f"ACADEMY_CORS_ORIGINS: {item!r} is not an origin such as "
                              "'https://app.example.org' (no path, no wildcard)")
        if production and parts.scheme != "https":
            raise ConfigError(f"ACADEMY_CORS_ORIGINS: {item!r} must use https in production")
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins)


def _count(name: str, value: str | None, *, minimum: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ConfigError(f"{name} must be a whole number of at least {minimum}, not {value!r}")
    return number


def _engine_options(uri: str, pooler: str, env) -> dict:
    """SQLAlchemy engine options: the pool of each process, and what a pooler requires.

    Behind a transaction-mode pooler (PgBouncer ``pool_mode = transaction``) consecutive
    transactions of one connection may run on different server connections, so nothing may
    live on a server connection between transactions: psycopg 3 prepares a statement on the
    server after five runs (``prepare_threshold``), and the next server connection then lacks
    it (or already has one of that name). ``prepare_threshold=None`` never prepares.
    """
    options: dict = {"pool_pre_ping": True}
    if uri.startswith("sqlite"):
        return options
    options["pool_size"] = _count("ACADEMY_DATABASE_POOL_SIZE",
                                  env("ACADEMY_DATABASE_POOL_SIZE", "5"), minimum=1)
    options["max_overflow"] = _count("ACADEMY_DATABASE_MAX_OVERFLOW",
                                     env("ACADEMY_DATABASE_MAX_OVERFLOW", "10"), minimum=0)
    if pooler == "transaction":
        if "+psycopg" in uri.split("://", 1)[0]:
            options["connect_args"] = {"prepare_threshold": None}
    return options


def _limit_storage_options(redis_url: str | None) -> dict:
    """Redis for the rate limits answers fast or counts as down: a request must not hang on a
    counter. ``wrap_exceptions`` raises one ``limits.errors.StorageError`` for any failure."""
    if not redis_url:
        return {}
    return {"wrap_exceptions": True, "socket_connect_timeout": 1, "socket_timeout": 1}


def load(instance_path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> dict:
    """Return the Flask config mapping for ``environ`` (the process environment by default)."""
    instance = Path(instance_path)
    _env = _reader(os.environ if environ is None else environ)
    env = _env("ACADEMY_ENV", "development")
    production = env == "production"
    database_url = _env("ACADEMY_DATABASE_URL")
    secret_key = _env("ACADEMY_SECRET_KEY")
    rate_limits = (_env("ACADEMY_RATE_LIMITS", "on") or "on").lower()
    redis_url = _env("ACADEMY_REDIS_URL")

    if production:
        missing = [
            name
            for name, value in (
                ("ACADEMY_SECRET_KEY", secret_key),
                ("ACADEMY_DATABASE_URL", database_url),
            )
            if not value
        ]
        if missing:
            raise ConfigError(f"ACADEMY_ENV=production requires {', '.join(missing)}")
        if secret_key and len(secret_key) < 32:
            raise ConfigError("ACADEMY_SECRET_KEY must be at least 32 characters in production")
        if database_url and database_url.startswith("sqlite"):
            raise ConfigError("ACADEMY_DATABASE_URL must name a real database server in production")
        if rate_limits == "off":
            raise ConfigError("ACADEMY_RATE_LIMITS=off is refused in production")
    if rate_limits not in ("on", "off"):
        raise ConfigError("ACADEMY_RATE_LIMITS must be 'on' or 'off'")

    cors_origins = _cors_origins(_env("ACADEMY_CORS_ORIGINS", "") or "", production)
    pooler = (_env("ACADEMY_DATABASE_POOLER", "none") or "none").lower()
    if pooler not in ("none", "transaction"):
        raise ConfigError("ACADEMY_DATABASE_POOLER must be 'none' or 'transaction'")
    proxy_hops = _count("ACADEMY_PROXY_HOPS", _env("ACADEMY_PROXY_HOPS", "0"), minimum=0)
    database_uri = database_url or f"sqlite:///{instance / 'academy.db'}"

    content_dir = Path(_env("ACADEMY_CONTENT_DIR", "content/tracks"))
    if not content_dir.is_absolute():
        content_dir = Path.cwd() / content_dir

    return {
        "ACADEMY_ENV": env,
        "SECRET_KEY": secret_key or _dev_secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(database_uri, pooler, _env),
        "DATABASE_POOLER": pooler,
        "PROXY_HOPS": proxy_hops,
        "REDIS_URL": redis_url,
        "MAIL_URL": _env("ACADEMY_MAIL_URL"),
        "MAIL_FROM": _env("ACADEMY_MAIL_FROM", "HireKit Academy <academy@localhost>"),
        "MAIL_DIR": _env("ACADEMY_MAIL_DIR") or str(instance / "mail"),
        "BASE_URL": (_env("ACADEMY_BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/"),
        "CONTENT_DIR": str(content_dir),
        "RATELIMIT_ENABLED": rate_limits == "on",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_STORAGE_OPTIONS": _limit_storage_options(redis_url),
        # Redis down, in development: each process falls back to its own in-memory counters.
        # Never in production: behind N processes that is N fresh quotas per client (see README).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": not production,
        # ... nor are the limits skipped there: the storage error reaches errors.py, and a
        # rate-limited door (sign-in, sign-up, reset, tokens, checks) answers 503 until Redis
        # is back.
        "RATELIMIT_SWALLOW_ERRORS": not production,
        # No X-RateLimit-* on any answer: the sign-up and sign-in counts are per address or
        # account, shared with others behind one address, and nobody's business; Flask-Limiter
        # would also add Retry-After to answers that succeeded. A 429 says when to come back
        # (errors.rate_limited), and that is all a client needs.
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_KEY_PREFIX": "academy",
        "CORS_ORIGINS": cors_origins,
        "BROKER_DIR": str(instance / "broker"),
        # Requests carry small JSON documents; anything larger is a mistake or an attack.
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        # flask-smorest: the OpenAPI document at /api/v1/openapi.json, built from the schemas.
        "API_TITLE": "HireKit Academy",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
