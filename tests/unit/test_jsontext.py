"""Outside JSON is read with one nesting limit, counted without recursion, whatever the caller's stack."""

from __future__ import annotations

import json

import pytest

from engagement.domain import jsontext
from engagement.domain.jsontext import MAX_NESTING, UnreadableJson, nests_deeper_than


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_refused_naming_the_limit() -> None:
    assert jsontext.loads(nested(MAX_NESTING)) == json.loads(nested(MAX_NESTING))
    with pytest.raises(UnreadableJson, match=f"nested deeper than {MAX_NESTING} levels"):
        jsontext.loads(nested(MAX_NESTING + 1))


@pytest.mark.parametrize(
    ("text", "deepest"),
    [
        pytest.param('{"subject": "[[[[ {{{{ sale"}', 1, id="brackets inside a string"),
        pytest.param('["a \\" [[[[", [1]]', 2, id="an escaped quote does not end the string"),
        pytest.param('["a \\\\", [[1]]]', 3, id="an escaped backslash does"),
        pytest.param('{"a": "\\u005b\\u005b"}', 1, id="unicode escapes"),
        pytest.param("[" * 5000, 5000, id="unterminated"),
    ],
)
def test_the_nesting_is_counted_as_the_parser_sees_it(text: str, deepest: int) -> None:
    assert nests_deeper_than(text, deepest - 1)
    assert not nests_deeper_than(text, deepest)
    assert nests_deeper_than(text.encode(), deepest - 1)
    assert not nests_deeper_than(text.encode("utf-16"), deepest)


def test_other_unreadable_json_stays_a_value_error_as_json_raises_it() -> None:
    with pytest.raises(json.JSONDecodeError):
        jsontext.loads("{not json")
    with pytest.raises(ValueError, match="4300"):
        jsontext.loads("1" * 5000)
