"""The one settings object, read from the environment at start-up and passed down.

No other module reads ``os.environ``. Secrets never print: tokens and passwords are
``SecretStr``, and the two URLs that may carry a password (``DATABASE_URL``,
``REDIS_URL``) show it as ``***`` in ``repr``, ``str`` and ``model_dump_json``.

Every secret may also come from a file: ``NAME_FILE=/run/secrets/name`` reads ``NAME``
from that file (Docker and Kubernetes secrets; surrounding whitespace is dropped). A
variable set directly wins over its ``_FILE``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_serializer, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from storage.db import default_url

SECRET_VARIABLES: Final = ("DATABASE_URL", "REDIS_URL", "SLACK_BOT_TOKEN",
                           "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "OPENAI_API_KEY",
                           "DIALER_TRUNK_PASSWORD")
"""The variables that may be given as ``NAME_FILE`` (a path) instead."""
_URL_FIELDS: Final = frozenset({"database_url", "redis_url"})
_SECRET_QUERY = ("pass", "secret", "token", "key")
MASK: Final = "***"


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def mask_url(url: str | None) -> str | None:
    """``url`` with the password in it (and password-like query values) as ``***``."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can take apart: show nothing of it
        return MASK
    masked = url
    if password is not None:
        userinfo, _, host = parts.netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        masked = masked.replace(parts.netloc, f"{user}:{MASK}@{host}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(w in k.lower() for k, _ in pairs for w in _SECRET_QUERY):
            query = urlencode([(k, MASK if any(w in k.lower() for w in _SECRET_QUERY) else v)
                               for k, v in pairs], safe="*")
            masked = masked.replace("?" + parts.query, "?" + query, 1)
    return masked


class SecretFiles(PydanticBaseSettingsSource):
    """``NAME_FILE`` variables: each names a file that holds the value of ``NAME``."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: ``__call__`` reads every file at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        values: dict[str, Any] = {}
        for name in SECRET_VARIABLES:
            path = env.get(f"{name}_FILE")
            if not path:
                continue
            try:
                values[name] = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise ValueError(f"{name}_FILE: cannot read {path}: {reason}") from exc
        return values


class Settings(BaseSettings):
    """Every knob of the dialer (CONTRACTS.md lists the environment variables)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    ray_address: str | None = Field(default=None, validation_alias="RAY_ADDRESS")
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/",
                               validation_alias="SLACK_API_URL")
    slack_operators: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="DIALER_SLACK_OPERATORS")
    slack_channels: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), validation_alias="DIALER_SLACK_CHANNELS")
    slack_alerts_channel: str | None = Field(default=None,
                                             validation_alias="DIALER_SLACK_ALERTS_CHANNEL")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    judge_model: str = Field(default="gpt-4.1-mini", validation_alias="DIALER_JUDGE_MODEL")
    """Chat model for judging goals and analyses (structured outputs)."""
    judge_price_in_per_mtok: float = Field(default=0.40,
                                           validation_alias="DIALER_JUDGE_PRICE_IN")
    judge_price_out_per_mtok: float = Field(default=1.60,
                                            validation_alias="DIALER_JUDGE_PRICE_OUT")
    """USD per million input/output tokens, for the cost recorded per call."""
    realtime_model: str = Field(default="gpt-realtime", validation_alias="DIALER_REALTIME_MODEL")
    """Default Realtime model of agents that do not name one."""
    voice_agent: Literal["auto", "realtime", "scripted"] = Field(
        default="auto", validation_alias="DIALER_VOICE_AGENT")
    """Who talks to humans: ``auto`` is OpenAI Realtime when OPENAI_* is set, else the
    scripted agent; ``scripted`` keeps the offline agent while the LLM still judges."""
    trunk: str | None = Field(default=None, validation_alias="DIALER_TRUNK")
    """The SIP trunk, ``sip:HOST[:PORT][;transport=tcp]`` (unset: ``dialer run`` places
    simulated calls only with ``--simulated``)."""
    trunk_username: str | None = Field(default=None, validation_alias="DIALER_TRUNK_USER")
    trunk_password: SecretStr | None = Field(default=None,
                                             validation_alias="DIALER_TRUNK_PASSWORD")
    trunk_register: bool = Field(default=False, validation_alias="DIALER_TRUNK_REGISTER")
    trunk_proxy: str | None = Field(default=None, validation_alias="DIALER_TRUNK_PROXY")
    trunk_pai: bool = Field(default=False, validation_alias="DIALER_TRUNK_PAI")
    sip_bind: str | None = Field(default=None, validation_alias="DIALER_SIP_BIND")
    """Local IP for SIP and RTP (unset: the default interface)."""
    max_abandon_rate: float = Field(default=0.03, gt=0.0, le=1.0,
                                    validation_alias="DIALER_MAX_ABANDON_RATE")
    amd_reply_window_ms: int = Field(default=8000, ge=0, le=30000,
                                     validation_alias="DIALER_AMD_REPLY_WINDOW_MS")
    """On a hang-up campaign, how long a machine's call is held for its beep or for a
    person's "Hello?" (a person whose long answer was called a machine); 0 hangs up at
    the machine verdict."""
    data_dir: Path = Field(default=Path("var"),
                           validation_alias=AliasChoices("DIALER_DATA_DIR"))

    @field_validator("slack_operators", "slack_channels", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value)

    @field_serializer("database_url", "redis_url")
    def _masked_url(self, value: str | None) -> str | None:
        return mask_url(value)

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in _URL_FIELDS and isinstance(value, str):
                value = mask_url(value)
            yield name, value

    @classmethod
    def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then the ``*_FILE`` secret files."""
        return (init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings,
                file_secret_settings)

    @property
    def effective_database_url(self) -> str:
        """``DATABASE_URL`` or the embedded SQLite file under ``var/``."""
        return self.database_url or default_url()

    @property
    def openai_enabled(self) -> bool:
        """True when an OpenAI-compatible server is configured."""
        return self.openai_api_key is not None or self.openai_base_url is not None


def load_settings() -> Settings:
    """Build the settings from the environment (and the secret files it names)."""
    return Settings()
