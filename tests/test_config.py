"""Production refuses to start on development defaults."""
import pytest

from academy import config

PRODUCTION = {"ACADEMY_ENV": "production"}
SERVICES = {**PRODUCTION, "ACADEMY_SECRET_KEY": "k" * 40,
            "ACADEMY_DATABASE_URL": "postgresql+psycopg://db/academy"}


def test_production_needs_a_secret_key_and_database(tmp_path):
    with pytest.raises(config.ConfigError, match="ACADEMY_SECRET_KEY, ACADEMY_DATABASE_URL"):
        config.load(tmp_path, PRODUCTION)


@pytest.mark.parametrize(("change", "message"), [
    ({"ACADEMY_DATABASE_URL": "sqlite:///x.db"}, "real database"),
    ({"ACADEMY_RATE_LIMITS": "off"}, "RATE_LIMITS=off"),
    ({"ACADEMY_SECRET_KEY": "short"}, "at least 32"),
])
def test_production_refuses_sqlite_short_keys_and_no_rate_limits(tmp_path, change, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(tmp_path, {**SERVICES, **change})


def test_production_cookies_are_secure(tmp_path):
    loaded = config.load(tmp_path, SERVICES)
    assert loaded["SESSION_COOKIE_SECURE"] and loaded["REMEMBER_COOKIE_SECURE"]
    assert loaded["SESSION_COOKIE_HTTPONLY"] and loaded["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_generates_and_keeps_a_secret_key(tmp_path):
    first = config.load(tmp_path, {})["SECRET_KEY"]
    assert len(first) >= 32
    assert config.load(tmp_path, {})["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_mail_files_go_to_the_instance_folder_unless_told_otherwise(tmp_path):
    assert config.load(tmp_path, {})["MAIL_DIR"] == str(tmp_path / "mail")
    elsewhere = {"ACADEMY_MAIL_DIR": str(tmp_path / "elsewhere")}
    assert config.load(tmp_path, elsewhere)["MAIL_DIR"] == str(tmp_path / "elsewhere")


def test_settings_come_from_the_mapping_given_not_the_process(tmp_path, monkeypatch):
    monkeypatch.setenv("ACADEMY_BASE_URL", "http://from-the-process.test")
    assert config.load(tmp_path, {})["BASE_URL"] == "http://127.0.0.1:5000"
    assert config.load(tmp_path)["BASE_URL"] == "http://from-the-process.test"


@pytest.mark.parametrize(("value", "hops"), [(None, 0), ("0", 0), ("1", 1), ("2", 2)])
def test_proxy_hops_default_to_trusting_nobody(tmp_path, value, hops):
    environ = {} if value is None else {"ACADEMY_PROXY_HOPS": value}
    assert config.load(tmp_path, environ)["PROXY_HOPS"] == hops


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_proxy_hops_must_be_a_count(tmp_path, value):
    with pytest.raises(config.ConfigError, match="ACADEMY_PROXY_HOPS"):
        config.load(tmp_path, {"ACADEMY_PROXY_HOPS": value})


def test_production_rate_limits_never_fall_back_skip_or_show_counters(tmp_path):
    loaded = config.load(tmp_path, {**SERVICES, "ACADEMY_REDIS_URL": "redis://cache:6379/0"})
    assert loaded["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] is False
    assert loaded["RATELIMIT_SWALLOW_ERRORS"] is False  # the storage error answers 503
    assert loaded["RATELIMIT_HEADERS_ENABLED"] is False
    # A Redis that hangs counts as down within a second, instead of holding the request.
    options = loaded["RATELIMIT_STORAGE_OPTIONS"]
    assert options["wrap_exceptions"] is True
    assert options["socket_connect_timeout"] <= 1 and options["socket_timeout"] <= 1


# gunicorn.conf.py, as `gunicorn wsgi:app` (run from the checkout) resolves it.

def gunicorn_settings(**environ: str) -> dict[str, str]:
    import subprocess

    from tests.helpers.services import ROOT, academy_environ

    # --print-config builds the app too: nothing of it may land in the checkout's instance/
    # (a database never opened, a broker never reached).
    env = academy_environ("sqlite:////nonexistent/academy.db", ACADEMY_REDIS_URL="redis://127.0.0.1:1/0",
                          **environ)
    for name in ("ACADEMY_BIND", "ACADEMY_WEB_WORKERS", "ACADEMY_PROXY_HOPS", "FORWARDED_ALLOW_IPS"):
        if name not in environ:
            env.pop(name, None)
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "gunicorn"), "--print-config",
                             "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    settings = {}
    for line in result.stdout.splitlines():
        name, sep, value = line.partition("=")
        if sep:
            settings[name.strip()] = value.strip()
    return settings


def test_gunicorn_listens_on_loopback_with_workers_from_the_cores():
    import os

    settings = gunicorn_settings()
    assert settings["bind"] == "['127.0.0.1:8000']"
    assert settings["workers"] == str(2 * len(os.sched_getaffinity(0)) + 1)
    assert settings["worker_class"] == "sync"


def test_gunicorn_takes_its_bind_and_workers_from_the_contracts_variables():
    settings = gunicorn_settings(ACADEMY_BIND="0.0.0.0:9000,unix:/run/academy.sock",
                                 ACADEMY_WEB_WORKERS="3")
    assert settings["bind"] == "['0.0.0.0:9000', 'unix:/run/academy.sock']"
    assert settings["workers"] == "3"


@pytest.mark.parametrize("hops", ["0", "1"])
def test_gunicorn_leaves_forwarded_headers_to_the_app(hops):
    # Even where FORWARDED_ALLOW_IPS, gunicorn's own default, says to trust everyone.
    settings = gunicorn_settings(ACADEMY_PROXY_HOPS=hops, FORWARDED_ALLOW_IPS="*")
    assert settings["forwarded_allow_ips"] == "[]"
    assert settings["secure_scheme_headers"] == "{}"
    assert settings["forwarder_headers"] == "[]"


def test_gunicorn_refuses_a_worker_count_that_is_not_one():
    import subprocess

    from tests.helpers.services import ROOT

    result = subprocess.run([str(ROOT / ".venv" / "bin" / "gunicorn"), "--check-config",
                             "wsgi:app"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "ACADEMY_WEB_WORKERS": "zero",
                                 "ACADEMY_SECRET_KEY": "x" * 40,
                                 "ACADEMY_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert result.returncode != 0
    assert "ACADEMY_WEB_WORKERS" in result.stdout + result.stderr
