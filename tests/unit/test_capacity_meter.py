"""The request-unit meter `make bench` prices DynamoDB calls with: DynamoDB's published sizing and rounding rules."""

from __future__ import annotations

from benchmarks.capacity import Index, Table, item_size, read_units_for, value_size

EMAILS = Table(
    "emails",
    keys=("emailId",),
    indexes=(
        Index("byStatus", keys=("status", "createdAt"), projection="INCLUDE", included=frozenset({"userId"})),
        Index("everything", keys=("userId",), projection="ALL"),
    ),
)


def email(status: str, *, content: str = "", user: str = "u-1") -> dict[str, dict[str, str]]:
    return {"emailId": {"S": "e-1"}, "userId": {"S": user}, "status": {"S": status},
            "createdAt": {"S": "2026-11-30T12:00:00.000Z"}, "content": {"S": content}}  # fmt: skip


def test_sizes_follow_dynamodbs_rules_for_each_type() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "123.4500"}) == 4  # 1 byte per two significant digits, plus 1
    assert value_size({"N": "-0.001"}) == 2
    assert value_size({"BOOL": True}) == value_size({"NULL": True}) == 1
    assert value_size({"L": [{"S": "ab"}, {"N": "1"}]}) == 3 + (1 + 2) + (1 + 2)
    assert value_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 1 + 2
    assert item_size({"name": {"S": "Ada"}, "n": {"N": "7"}}) == 4 + 3 + 1 + 2


def test_a_write_costs_a_unit_per_kilobyte_of_the_larger_item_and_twice_in_a_transaction() -> None:
    small, large = email("PENDING_REVIEW"), email("PENDING_REVIEW", content="x" * 2500)
    assert EMAILS.write_units(None, small)["emails"] == 1
    assert EMAILS.write_units(large, small)["emails"] == 3  # the larger of before and after
    assert EMAILS.write_units(None, large, transactional=True)["emails"] == 6


def test_an_index_entry_costs_only_when_the_write_changes_it() -> None:
    before = email("PENDING_REVIEW", content="x" * 2500)
    content_edited = EMAILS.write_units(before, email("PENDING_REVIEW", content="y" * 2500))
    moved = EMAILS.write_units(before, email("SENDING", content="x" * 2500))

    assert "emails/byStatus" not in content_edited  # content is not projected: the entry is untouched
    assert content_edited["emails/everything"] == 3  # ALL: the whole item, rewritten
    assert moved["emails/byStatus"] == 2  # the index key changed: a delete and a put of a small entry
    assert EMAILS.write_units(before, None)["emails/byStatus"] == 1  # deleted with the item
    assert "emails/byStatus" not in EMAILS.write_units(None, {"emailId": {"S": "e-2"}})  # sparse: no key, no entry


def test_a_read_costs_a_unit_per_four_kilobytes_and_half_that_when_eventually_consistent() -> None:
    assert read_units_for(0, consistent=True) == 1  # even an item not found
    assert read_units_for(4096, consistent=True) == 1
    assert read_units_for(4097, consistent=True) == 2
    assert read_units_for(4097, consistent=False) == 1
    assert read_units_for(100, consistent=False, transactional=True) == 2
