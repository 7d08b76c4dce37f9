"""The one settings object, read from the environment at start-up and passed down.

No other module reads ``os.environ``. Secrets are ``SecretStr`` so they never print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import default_url


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


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
    data_dir: Path = Field(default=Path("var"),
                           validation_alias=AliasChoices("DIALER_DATA_DIR"))

    @field_validator("slack_operators", "slack_channels", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split(value)

    @property
    def effective_database_url(self) -> str:
        """``DATABASE_URL`` or the embedded SQLite file under ``var/``."""
        return self.database_url or default_url()

    @property
    def openai_enabled(self) -> bool:
        """True when an OpenAI-compatible server is configured."""
        return self.openai_api_key is not None or self.openai_base_url is not None


def load_settings() -> Settings:
    """Build the settings from the environment (and nothing else)."""
    return Settings()
