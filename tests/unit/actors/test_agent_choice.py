"""Which voice agent a call gets: Realtime with an OpenAI-compatible server, else the
scripted one; one Realtime client per agent profile and process."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from actors.campaign_loop import DialRequest
from actors.runtime import RuntimeConfig
from actors.sipcalls import agent_for
from agent.base import AgentProfile
from agent.llm import LlmConfig
from agent.realtime import RealtimeAgent
from agent.scripted import ScriptedAgent
from campaigns import types as t


def _request(profile: AgentProfile | None) -> DialRequest:
    return DialRequest(call_id=1, campaign_id=1, campaign_contact_id=1, token=1,
                       to="+12025550100", caller_id="+14155550100", number_id=1,
                       ring_timeout_s=25, amd_mode=t.AmdMode.ML,
                       machine_action=t.MachineAction.HANG_UP,
                       started_at=datetime(2026, 12, 1, tzinfo=UTC), agent=profile)


def test_without_a_server_the_scripted_agent_talks() -> None:
    agent = agent_for(_request(None), RuntimeConfig(database_url="sqlite://"))
    assert isinstance(agent, ScriptedAgent)


def test_with_a_server_each_profile_gets_one_realtime_agent() -> None:
    config = RuntimeConfig(database_url="sqlite://", voice=LlmConfig(
        model="gpt-realtime", api_key="sk-test", base_url="http://127.0.0.1:9/v1"))
    ava = AgentProfile("Ava", first_message="Hi", model="gpt-realtime-mini")
    first = agent_for(_request(ava), config)
    assert isinstance(first, RealtimeAgent)
    assert agent_for(_request(ava), config) is first
    assert agent_for(_request(AgentProfile("Bo")), config) is not first
    assert "sk-test" not in repr(config)  # the key never shows in logs


def test_the_reply_window_goes_from_the_setting_to_every_call(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DIALER_AMD_REPLY_WINDOW_MS reaches the call flow of each call, with the watches."""
    import actors.sipcalls as sipcalls
    from dialer.settings import Settings
    from sip.types import TrunkConfig

    monkeypatch.setenv("DIALER_AMD_REPLY_WINDOW_MS", "2500")
    window = Settings().amd_reply_window_ms
    assert window == 2500
    seen: dict[str, Any] = {}

    def fake_run_call(engine: Any, request: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise TimeoutError("stop here")

    monkeypatch.setattr(sipcalls, "run_call", fake_run_call)
    config = RuntimeConfig(database_url="sqlite://", reply_window_ms=window)
    result = sipcalls.place_sip_call(object(), _request(None), TrunkConfig(host="127.0.0.1"),
                                     config)
    assert result.answer_status is t.AnswerStatus.FAILED
    assert seen["settings"].reply_window_ms == 2500
    assert seen["reply_watch"] is not None and seen["late_beep"] is not None


@pytest.mark.parametrize("value", ["-1", "30001", "soon"])
def test_a_bad_reply_window_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from pydantic import ValidationError

    from dialer.settings import Settings

    monkeypatch.setenv("DIALER_AMD_REPLY_WINDOW_MS", value)
    with pytest.raises(ValidationError, match="DIALER_AMD_REPLY_WINDOW_MS"):
        Settings()
