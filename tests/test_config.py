"""Production refuses to start on development defaults."""
import pytest

from academy import config


@pytest.fixture
def production(monkeypatch):
    for name in ("ACADEMY_SECRET_KEY", "ACADEMY_DATABASE_URL", "ACADEMY_RATE_LIMITS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACADEMY_ENV", "production")
    return monkeypatch


def test_production_needs_a_secret_key_and_database(production, tmp_path):
    with pytest.raises(config.ConfigError, match="ACADEMY_SECRET_KEY, ACADEMY_DATABASE_URL"):
        config.load(tmp_path)


def test_production_refuses_sqlite_short_keys_and_no_rate_limits(production, tmp_path):
    production.setenv("ACADEMY_SECRET_KEY", "k" * 40)
    production.setenv("ACADEMY_DATABASE_URL", "sqlite:///x.db")
    with pytest.raises(config.ConfigError, match="real database"):
        config.load(tmp_path)
    production.setenv("ACADEMY_DATABASE_URL", "postgresql+psycopg://db/academy")
    production.setenv("ACADEMY_RATE_LIMITS", "off")
    with pytest.raises(config.ConfigError, match="RATE_LIMITS=off"):
        config.load(tmp_path)
    production.setenv("ACADEMY_SECRET_KEY", "short")
    production.setenv("ACADEMY_RATE_LIMITS", "on")
    with pytest.raises(config.ConfigError, match="at least 32"):
        config.load(tmp_path)


def test_production_cookies_are_secure(production, tmp_path):
    production.setenv("ACADEMY_SECRET_KEY", "k" * 40)
    production.setenv("ACADEMY_DATABASE_URL", "postgresql+psycopg://db/academy")
    loaded = config.load(tmp_path)
    assert loaded["SESSION_COOKIE_SECURE"] and loaded["REMEMBER_COOKIE_SECURE"]
    assert loaded["SESSION_COOKIE_HTTPONLY"] and loaded["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_development_generates_and_keeps_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("ACADEMY_SECRET_KEY", raising=False)
    monkeypatch.delenv("ACADEMY_ENV", raising=False)
    first = config.load(tmp_path)["SECRET_KEY"]
    assert len(first) >= 32
    assert config.load(tmp_path)["SECRET_KEY"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_mail_files_go_to_the_instance_folder_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("ACADEMY_MAIL_DIR", raising=False)
    assert config.load(tmp_path)["MAIL_DIR"] == str(tmp_path / "mail")
    monkeypatch.setenv("ACADEMY_MAIL_DIR", str(tmp_path / "elsewhere"))
    assert config.load(tmp_path)["MAIL_DIR"] == str(tmp_path / "elsewhere")
