"""Which voice agent a call gets: Realtime with an OpenAI-compatible server, else the
scripted one; one Realtime client per agent profile and process."""

from __future__ import annotations

from datetime import UTC, datetime

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
