"""``campaigns.phones.mask``: what a log shows of a phone number."""

from __future__ import annotations

import doctest

import pytest

from campaigns import phones
from campaigns.phones import mask


def test_the_docstring_examples_are_what_mask_does() -> None:
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    examples = finder.find(phones.mask, "mask", globs={"mask": mask})
    assert sum(len(test.examples) for test in examples) >= 3
    for test in examples:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0


@pytest.mark.parametrize(("number", "masked"), [
    ("+14155550123", "+1********23"),  # NANP: the whole country code shows
    ("+442079460958", "+4*********58"),  # elsewhere only its first digit
    ("+4915123456789", "+4**********89"),
    ("+12345", "+1**45"),
    ("+1234", "*****"),
    ("", ""),
])
def test_mask_shows_the_plus_the_first_digit_and_the_last_two(number: str,
                                                              masked: str) -> None:
    assert mask(number) == masked
