"""No text can stall a function: every pattern that reads outside text is linear in its length.

Each case feeds 100 KB of the input that made a pattern backtrack (quadratic patterns took 13 s on 20,000 digits;
on 100 KB they would run for minutes). The edges bound every field far below 100 KB, so here the checks are called
on content built without those bounds. Each case runs in a forked process that is killed after a few seconds: a
regular expression cannot be interrupted from inside, and a stalled case must fail, not hang the suite. Linear code
takes milliseconds, so the limit tells a hang from a slow machine by three orders of magnitude.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from engagement.domain.models import Client, normalise_address
from engagement.domain.scoring import score_client
from engagement.writer import CallToAction, EmailContent, WriteRequest
from engagement.writer.guardrails import GuardrailPolicy, check
from engagement.writer.llm import scrubbed
from engagement.writer.prompt import plain
from engagement.writer.template import TemplateWriter

SIZE = 100_000
HANG = 5.0  # seconds

WORST_CASES = {
    "a long run of digits": "1" * SIZE,
    "numbers with separators": "1." * (SIZE // 2),
    "dotted names with no top-level domain": "a." * (SIZE // 2) + "1",
    "hyphenated labels": "a-" * (SIZE // 2),
    "web prefixes": "www." * (SIZE // 4),
    "URL schemes": "https://" * (SIZE // 8),
    "tags never closed": "<a" * (SIZE // 2),
    "a code that never ends": "code " + "1" * SIZE + "x",
    "at signs": "a@" * (SIZE // 2),
    "phone-like runs": "1 " * (SIZE // 2),
    "a spelled-out dot again and again": "a dot " * (SIZE // 6),
    "spaces after a number": "5" + " " * SIZE + "x",
    "key-like runs": "sk-" * (SIZE // 3),
    "markers": "client" + "_" * SIZE,
    "words and spaces": "been " * (SIZE // 5),
}

NOW = datetime(2026, 11, 28, tzinfo=UTC)
CLIENT = Client.model_validate({"userId": "u", "email": "u@example.com", "name": "Ada", "orderCount": 5,
                                "lastOrderDate": "2026-08-30T00:00:00.000Z"})  # fmt: skip
REQUEST = WriteRequest(client=CLIENT, score=score_client(CLIENT, NOW), now=NOW)


def guardrails(text: str) -> object:
    content = EmailContent.model_construct(  # the bounds are the edge's: here the checks meet the raw text
        subject="New picks", preheader="", greeting="Hi Ada,", paragraphs=(text,), sign_off="The team",
        call_to_action=CallToAction(label="See your picks", url="https://shop.example.com/"),
    )  # fmt: skip
    return check(content, REQUEST, GuardrailPolicy(allowed_link_domains=("shop.example.com",)))


def address(text: str) -> object:
    try:
        return normalise_address("x@" + text)
    except ValueError as refused:
        return refused


def template(text: str) -> object:
    client = Client.model_construct(**{**CLIENT.__dict__, "name": text, "preferred_categories": (text,)})
    return TemplateWriter("https://shop.example.com/", "Northwind").write(REQUEST.model_copy(update={"client": client}))


READERS: dict[str, Callable[[str], object]] = {
    "guardrails": guardrails,
    "email address": address,
    "prompt facts": plain,
    "provider error": scrubbed,
    "template": template,
}


def _finishes(reader: Callable[[str], object], text: str) -> bool:
    process = multiprocessing.get_context("fork").Process(target=reader, args=(text,))
    process.start()
    process.join(HANG)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    return process.exitcode == 0


@pytest.mark.parametrize("reader", READERS)
def test_no_pattern_stalls_on_100_kb_of_its_worst_case(reader: str) -> None:
    stalled = [case for case, text in WORST_CASES.items() if not _finishes(READERS[reader], text)]
    assert stalled == [], f"{reader} stalled (or failed) on {stalled}"
