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

    content_dir = Path(_env("ACADEMY_CONTENT_DIR", "content/tracks"))
    if not content_dir.is_absolute():
        content_dir = Path.cwd() / content_dir

    return {
        "ACADEMY_ENV": env,
        "SECRET_KEY": secret_key or _dev_secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{instance / 'academy.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "MAIL_URL": _env("ACADEMY_MAIL_URL"),
        "MAIL_FROM": _env("ACADEMY_MAIL_FROM", "HireKit Academy <academy@localhost>"),
        "MAIL_DIR": _env("ACADEMY_MAIL_DIR") or str(instance / "mail"),
        "BASE_URL": (_env("ACADEMY_BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/"),
        "CONTENT_DIR": str(content_dir),
        "RATELIMIT_ENABLED": rate_limits == "on",
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down: each process falls back to its own in-memory counters rather than
        # either letting every guess through or refusing every sign-in (see README).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_HEADERS_ENABLED": True,
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
