"""The pieces of a cross-domain answer: clauses, what is said once, the combined table, "those"."""

from __future__ import annotations

from genie_agent.combine import combine_results
from genie_agent.turn import COMBINED, ResultTable
from genie_agent.understanding.clauses import shareable, split_clauses, strip_presentation
from genie_agent.understanding.lexicon import tokenize
from genie_agent.understanding.references import carry_members, key_members, resolve_references


def _table(domain: str, columns, rows, *, truncated: bool = False) -> ResultTable:
    return ResultTable(
        domain, "SELECT 1", tuple(columns), tuple(map(tuple, rows)), len(rows), truncated, None
    )


def _clauses(question: str, values: set[str] = frozenset()) -> list[str]:
    tokens = tokenize(question)
    return [c.text for c in split_clauses(question, tokens, lambda i: tokens[i].lower in values)]


def test_a_question_splits_at_its_connectors_but_never_inside_a_value_set():
    assert _clauses("revenue by region alongside the number of customers") == [
        "revenue by region",
        "the number of customers",
    ]
    assert _clauses("1996 revenue next to the supplier count, europe only") == [
        "1996 revenue",
        "the supplier count",
        "europe only",
    ]
    assert _clauses("customers in Germany and France and suppliers", {"germany", "france"}) == [
        "customers in Germany and France",
        "suppliers",
    ]
    assert _clauses("balances over 9,500 and suppliers") == ["balances over 9,500", "suppliers"]


def test_only_values_groupings_and_times_are_said_once_for_every_part():
    def can_share(text: str, kinds: dict[str, set[str]]) -> bool:
        tokens = tokenize(text)
        spans = [(i, i + 1, kinds[t.lower]) for i, t in enumerate(tokens) if t.lower in kinds]
        return shareable(tokens, spans)

    assert can_share("in peru", {"peru": {"value"}})
    assert can_share("by region excl. europe", {"region": {"dimension"}, "europe": {"value"}})
    assert can_share("in 1996", {})
    assert not can_share("with a balance over 9,500", {"balance": {"measure"}})  # a condition on one measure
    assert not can_share("organic only", {})  # a word no space knows stays where it was said
    assert not can_share("in the", {})  # nothing to share


def test_words_that_only_ask_for_one_table_ask_nothing_of_a_space():
    assert strip_presentation("Put 1998 revenue and supplier count by region in one table") == (
        "Put 1998 revenue and supplier count by region"
    )
    assert strip_presentation("One table, one row per region: revenue") == "per region: revenue"
    assert (
        strip_presentation("side by side per nation: customers vs suppliers")
        == "per nation: customers vs suppliers"
    )
    assert strip_presentation("revenue by table size") == "revenue by table size"


def test_the_combined_table_joins_on_the_shared_keys_and_leaves_missing_members_missing():
    sales = _table("sales", ["region", "revenue"], [["ASIA", 10.5], ["EUROPE", 7.25]])
    supply = _table("supply", ["region", "suppliers"], [["EUROPE", 3], ["AFRICA", 4]])
    combined = combine_results([sales, supply])
    assert combined is not None and combined.domain == COMBINED
    assert combined.columns == ("region", "revenue (sales)", "suppliers (supply)")
    assert combined.rows == (("ASIA", 10.5, None), ("EUROPE", 7.25, 3), ("AFRICA", None, 4))


def test_no_combined_table_when_the_parts_do_not_share_their_grouping():
    by_region = _table("sales", ["region", "revenue"], [["ASIA", 1.0]])
    assert combine_results([by_region, _table("supply", ["nation", "suppliers"], [["PERU", 2]])]) is None
    assert combine_results([by_region, _table("supply", ["suppliers"], [[2]])]) is None
    cut = _table("supply", ["region", "suppliers"], [["ASIA", 2]], truncated=True)
    assert combine_results([by_region, cut]) is None  # cut-off rows would read as missing members
    twice = _table("supply", ["region", "suppliers"], [["ASIA", 2], ["ASIA", 3]])
    assert combine_results([by_region, twice]) is None


def test_those_names_the_previous_answers_members():
    members = {"nation": ["IRAN", "MOROCCO", "IRAQ"]}
    assert resolve_references("how many customers do those nations have", members) == (
        "how many customers do IRAN, MOROCCO and IRAQ have by nation"
    )
    assert resolve_references("revenue per nation for these nations?", members) == (
        "revenue per nation for IRAN, MOROCCO and IRAQ?"
    )
    assert resolve_references("customers in those two?", {"nation": ["CHINA", "GERMANY"]}) == (
        "customers in CHINA and GERMANY by nation?"
    )
    # A reference to something the last answer was not grouped by is left as asked.
    assert resolve_references("revenue of those orders", members) == "revenue of those orders"
    assert resolve_references("customers in those two?", {"nation": ["A", "B"], "year": [1]}) == (
        "customers in those two?"
    )


def test_an_elliptic_follow_up_carries_the_members_to_another_space():
    members = {"nation": ["IRAN", "IRAQ"]}
    assert carry_members("and suppliers?", members) == "and suppliers for IRAN and IRAQ by nation?"
    assert carry_members("how many suppliers are there?", members) == "how many suppliers are there?"


def test_key_members_are_bounded_and_distinct():
    assert key_members(["nation", "n"], [["A", 1], ["B", 2], ["A", 3]], 1) == {"nation": ["A", "B"]}
    assert key_members(["k", "n"], [[i, i] for i in range(51)], 1) == {}
