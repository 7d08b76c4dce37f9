"""A trunk that will not register turns calls into trunk failures and alerts once."""

from __future__ import annotations

import pytest

from actors.sipcalls import TrunkGate
from sip.types import RegistrationFailed, TrunkConfig

TRUNK = TrunkConfig(host="127.0.0.1", port=5070, username="u", password="p", register=True)


class FakeEngine:
    def __init__(self) -> None:
        self.answers: list[int] = []
        self.registers = 0
        self.status: int | None = 200

    def register(self, trunk: TrunkConfig) -> None:
        self.registers += 1
        code = self.answers.pop(0) if self.answers else 200
        if code != 200:
            raise RegistrationFailed(code, "Forbidden")

    def registration_status(self, trunk: TrunkConfig) -> int | None:
        return self.status


def test_a_refused_register_fails_calls_alerts_once_and_is_retried_later() -> None:
    engine, alerts, now = FakeEngine(), [], [0.0]
    engine.answers = [403, 403]
    gate = TrunkGate(engine, TRUNK, alerts.append, retry_s=30, clock=lambda: now[0])
    with pytest.raises(RegistrationFailed):
        gate.check()
    now[0] = 10.0
    with pytest.raises(RegistrationFailed):
        gate.check()  # within retry_s: no new REGISTER
    assert engine.registers == 1
    now[0] = 31.0
    with pytest.raises(RegistrationFailed):
        gate.check()
    assert engine.registers == 2
    assert alerts == ["REGISTER to 127.0.0.1:5070 failed: 403 Forbidden"]  # one per outage
    now[0] = 62.0
    gate.check()  # the trunk came back
    gate.check()
    assert engine.registers == 3


def test_a_registration_that_lapses_later_is_noticed() -> None:
    engine, alerts = FakeEngine(), []
    gate = TrunkGate(engine, TRUNK, alerts.append, clock=lambda: 0.0)
    gate.check()
    engine.status = 408
    engine.answers = [503]
    with pytest.raises(RegistrationFailed):
        gate.check()
    assert alerts == ["REGISTER to 127.0.0.1:5070 failed: 408 registration lapsed"]


def test_ip_authenticated_trunks_never_register() -> None:
    engine = FakeEngine()
    TrunkGate(engine, TrunkConfig(host="127.0.0.1"), lambda _: None).check()
    assert engine.registers == 0
