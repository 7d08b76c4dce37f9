"""Secrets come from the environment or from secret files, and never show: not in the
settings' ``repr``/``str``/JSON, not in the configs built from them, not in log lines,
not in the CLI's output, even with ``--debug``."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from dialer.settings import SECRET_VARIABLES, Settings, mask_url

DIALER = shutil.which("dialer", path=str(Path(sys.executable).parent)) or "dialer"
SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-bot-SECRET-1111",
    "SLACK_SIGNING_SECRET": "signing-SECRET-2222",
    "SLACK_APP_TOKEN": "xapp-SECRET-3333",
    "OPENAI_API_KEY": "sk-SECRET-4444",
    "DIALER_TRUNK_PASSWORD": "sip-SECRET-5555",
}
DB_PASSWORD = "pg-SECRET-6666"
REDIS_PASSWORD = "redis-SECRET-7777"
ENV = {**SECRETS,
       "DATABASE_URL": f"postgresql+psycopg://dialer:{DB_PASSWORD}@db.internal:5432/dialer"
                       f"?sslpassword={DB_PASSWORD}x&application_name=dialer",
       "REDIS_URL": f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0",
       "DIALER_TRUNK": "sip:trunk.example:5060", "DIALER_TRUNK_USER": "dialer",
       "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
ALL_SECRETS = (*SECRETS.values(), DB_PASSWORD, REDIS_PASSWORD)


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(tuple(SECRET_VARIABLES)) or name.upper().startswith(
                ("SLACK_", "DIALER_", "OPENAI_")):
            monkeypatch.delenv(name)


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    _clean_env(monkeypatch)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return Settings()


def assert_no_secret(text: str, where: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text, f"{where} shows {secret!r}: {text[:800]}"


def test_the_settings_hold_the_secrets(settings: Settings) -> None:
    """The masking hides; it does not lose anything."""
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == SECRETS["SLACK_BOT_TOKEN"]
    assert settings.trunk_password is not None
    assert settings.trunk_password.get_secret_value() == SECRETS["DIALER_TRUNK_PASSWORD"]
    assert DB_PASSWORD in settings.effective_database_url
    assert settings.redis_url is not None and REDIS_PASSWORD in settings.redis_url


def test_the_settings_never_print_a_secret(settings: Settings,
                                           caplog: pytest.LogCaptureFixture) -> None:
    assert_no_secret(repr(settings), "repr")
    assert_no_secret(str(settings), "str")
    assert_no_secret(f"{settings}", "format")
    assert_no_secret(settings.model_dump_json(), "model_dump_json")
    assert_no_secret(str(settings.model_dump()), "model_dump")
    assert_no_secret(str(settings.model_dump(mode="json")), "model_dump(json)")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("dialer.test").info("settings %s %r", settings, settings)
        logging.getLogger("dialer.test").info("config", extra={"settings": settings})
    for record in caplog.records:
        assert_no_secret(record.getMessage() + repr(record.__dict__), "a log record")
    # what is shown still says where things are
    assert "db.internal:5432" in repr(settings) and "cache.internal" in repr(settings)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:pw@h:5432/d", "postgresql://u:***@h:5432/d"),
    ("postgresql://u:p%40w@h/d", "postgresql://u:***@h/d"),
    ("postgresql://u:p@w@h/d", "postgresql://u:***@h/d"),
    ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
    ("rediss://default:pw@h/0?ssl_cert_reqs=none", "rediss://default:***@h/0?ssl_cert_reqs=none"),
    ("postgresql://h/d?user=u&password=pw", "postgresql://h/d?user=u&password=***"),
    ("sqlite:///var/dialer.sqlite3", "sqlite:///var/dialer.sqlite3"),
    ("postgresql+psycopg://postgres@127.0.0.1/test", "postgresql+psycopg://postgres@127.0.0.1/test"),
    ("http://[::1", "***"),
    ("", ""),
])
def test_urls_are_shown_without_their_passwords(url: str, shown: str) -> None:
    assert mask_url(url) == shown


# --- secret files -----------------------------------------------------------------------

def test_every_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    _clean_env(monkeypatch)
    for name in SECRET_VARIABLES:
        path = tmp_path / name.lower()
        path.write_text(f"{ENV[name]}\n", encoding="utf-8")  # files end with a newline
        monkeypatch.setenv(f"{name}_FILE", str(path))
    settings = Settings()
    assert settings.database_url == ENV["DATABASE_URL"]
    assert settings.redis_url == ENV["REDIS_URL"]
    for name, field in (("SLACK_BOT_TOKEN", settings.slack_bot_token),
                        ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                        ("SLACK_APP_TOKEN", settings.slack_app_token),
                        ("OPENAI_API_KEY", settings.openai_api_key),
                        ("DIALER_TRUNK_PASSWORD", settings.trunk_password)):
        assert field is not None and field.get_secret_value() == SECRETS[name], name
    assert_no_secret(repr(settings) + settings.model_dump_json(), "settings from files")


def test_a_variable_set_directly_wins_over_its_file(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    _clean_env(monkeypatch)
    (tmp_path / "token").write_text("xoxb-from-file", encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    token = Settings().slack_bot_token
    assert token is not None and token.get_secret_value() == "xoxb-from-env"


def test_an_unreadable_secret_file_is_a_clear_error_without_its_content(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clean_env(monkeypatch)
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match=r"OPENAI_API_KEY_FILE.*missing"):
        Settings()


def test_the_cli_reads_database_url_from_a_file(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text(f"sqlite:///{tmp_path / 'from-file.sqlite3'}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("DATABASE_URL", "SLACK", "OPENAI"))}
    env["DATABASE_URL_FILE"] = str(secret)
    created = subprocess.run([DIALER, "campaign", "create", "from-file", "--json"],
                             capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=120, check=False)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "from-file.sqlite3").exists()
    env["DATABASE_URL_FILE"] = str(tmp_path / "nope")
    failed = subprocess.run([DIALER, "campaign", "list", "--json"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert failed.returncode == 2 and "DATABASE_URL_FILE" in failed.stderr
    assert "Traceback" not in failed.stderr


# --- configs built from the settings ---------------------------------------------------

def test_the_slack_config_hides_its_token_and_secret(settings: Settings) -> None:
    from dialer.slack_commands import chatops_config

    config = chatops_config(settings)
    assert config.bot_token == SECRETS["SLACK_BOT_TOKEN"]
    assert_no_secret(repr(config) + str(config), "ChatOpsConfig")


def test_the_trunk_config_hides_the_sip_password(settings: Settings) -> None:
    from dialer.run_commands import trunk_config

    trunk = trunk_config(settings)
    assert trunk.password == SECRETS["DIALER_TRUNK_PASSWORD"]
    assert_no_secret(repr(trunk) + str(trunk), "TrunkConfig")


def test_the_llm_configs_hide_the_api_key(settings: Settings) -> None:
    from dialer.judge_commands import judge_config, voice_config

    for config in (judge_config(settings), voice_config(settings)):
        assert config is not None and config.api_key == SECRETS["OPENAI_API_KEY"]
        assert_no_secret(repr(config), "LlmConfig")


def test_the_runtime_config_hides_the_database_and_redis_passwords(settings: Settings) -> None:
    from actors.runtime import RuntimeConfig

    config = RuntimeConfig(database_url=settings.effective_database_url,
                           redis_url=settings.redis_url)
    assert_no_secret(repr(config), "RuntimeConfig")


# --- logs and output of running code ----------------------------------------------------

def test_the_slack_app_logs_no_token_or_secret(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    from chatops.server import SlackHttpServer
    from dialer.slack_commands import build_slack_app
    from storage.db import make_engine, session_factory
    from storage.migrate import upgrade
    from tests.integration.chatops.conftest import NOW, Driver, settings_for
    from tests.integration.chatops.fake_slack import FakeSlack

    fake = FakeSlack(token=SECRETS["SLACK_BOT_TOKEN"]).start()
    engine = make_engine(f"sqlite:///{tmp_path / 'slack.sqlite3'}")
    upgrade(engine)
    caplog.set_level(logging.DEBUG)
    settings = settings_for(fake, SLACK_SIGNING_SECRET=SECRETS["SLACK_SIGNING_SECRET"])
    app = build_slack_app(settings, session_factory(engine), lambda: NOW)
    server = SlackHttpServer(app, "127.0.0.1", 0).start()
    try:
        driver = Driver(f"http://127.0.0.1:{server.port}/slack/events", fake,
                        secret=SECRETS["SLACK_SIGNING_SECRET"])
        mark = fake.mark()
        assert driver.command("list").status == 200
        fake.wait("chat.postMessage", mark)
        assert driver.command("list", user="UNOBODY").status == 200  # no operator: fine
        time.sleep(0.2)
    finally:
        server.shutdown()
        fake.stop()
        engine.dispose()
    assert any(r.name.startswith("slack_sdk") for r in caplog.records)  # it did log
    for record in caplog.records:
        assert_no_secret(record.getMessage() + str(record.exc_text or ""), record.name)


@pytest.mark.integration
def test_the_cli_never_prints_the_database_password(
        pg_engine_factory: Callable[[], Engine], tmp_path: Path) -> None:
    engine = pg_engine_factory()
    url = engine.url.set(password=DB_PASSWORD).render_as_string(hide_password=False)
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("DATABASE_URL", "SLACK", "OPENAI"))}
    unreachable = url.replace("127.0.0.1:5432", "127.0.0.1:1")
    for database_url, args, expect in (
            (url, ["--debug", "campaign", "list", "--json"], 0),  # trust auth: any password
            (unreachable, ["--debug", "campaign", "list", "--json"], 1)):
        env["DATABASE_URL"] = database_url
        proc = subprocess.run([DIALER, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120, check=False)
        assert proc.returncode == expect, (args, proc.stderr[-800:])
        assert_no_secret(proc.stdout + proc.stderr, f"dialer {' '.join(args)}")
