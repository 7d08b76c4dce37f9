"""Text lengths the database keeps are checked by the domain types, with a clear reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from campaigns import types as t
from campaigns.errors import ValidationError


def test_check_length_names_the_field_and_the_limit() -> None:
    assert t.check_length("name", "a" * 300, 300) == "a" * 300
    with pytest.raises(ValidationError, match=r"^name: name is 1,001 characters; the limit "
                                              r"is 300$") as caught:
        t.check_length("name", "a" * 1001, 300)
    assert caught.value.field == "name"


@pytest.mark.parametrize("build", [
    lambda name: t.Campaign(id=0, name=name),
    lambda name: t.Goal(id=0, name=name),
    lambda name: t.Analysis(id=0, name=name, question="q", kind=t.AnalysisKind.OPEN),
    lambda name: t.PhoneNumber(id=0, e164="+12025550100", friendly_name=name),
], ids=["campaign", "goal", "analysis", "number"])
def test_names_longer_than_the_column_are_refused(build: Callable[[str], object]) -> None:
    build("n" * t.MAX_NAME_CHARS)
    with pytest.raises(ValidationError, match="the limit is 200"):
        build("n" * (t.MAX_NAME_CHARS + 1))


def test_a_rename_is_checked_too() -> None:
    campaign = t.Campaign(id=1, name="Spring")
    with pytest.raises(ValidationError, match="the limit is 200"):
        replace(campaign, name="n" * 201)


def test_a_goal_needs_a_name() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        t.Goal(id=0, name="  ")


@pytest.mark.parametrize("region", ["USA", "u", "us", "", "1A", "ÜS"])
def test_a_campaign_region_is_two_capital_letters(region: str) -> None:
    with pytest.raises(ValidationError, match="two-letter country code"):
        t.Campaign(id=0, name="Spring", region=region)
    assert t.Campaign(id=0, name="Spring", region="GB").region == "GB"
