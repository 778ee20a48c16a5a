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
