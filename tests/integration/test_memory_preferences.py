"""Preferences in plain language: extracted over the spaces' own vocabulary and applied to answers."""

from __future__ import annotations

import pytest

from genie_agent.turn import RouteDecided, TextDelta, TurnDone, VisualizationReady

pytestmark = pytest.mark.usefixtures("tpch_db")


@pytest.fixture(scope="module")
def extractor(tpch_catalog, tmp_path_factory):
    from genie_agent.config import load_settings
    from genie_agent.factory import make_agent
    from genie_agent.understanding.extraction import PreferenceExtractor
    from genie_agent.understanding.vocabulary import SpaceVocabulary

    home = tmp_path_factory.mktemp("extractor-home")
    agent = make_agent(
        load_settings(home=home, tracing="off", memory_backend="off"), catalog=tpch_catalog, progress=False
    )
    return PreferenceExtractor(SpaceVocabulary.from_spaces(agent.spaces))


def _prefs(extraction):
    return {p.slot: p.values for p in extraction.preferences}


@pytest.mark.parametrize(
    ("message", "slot", "values"),
    [
        ("my region is EUROPE", "filter:region", ("EUROPE",)),
        ("Our team only looks after asia", "filter:region", ("ASIA",)),
        ("I handle the Household segment", "filter:market segment", ("HOUSEHOLD",)),
        ("Going forward, we're focused on Japan and Brazil", "filter:nation", ("BRAZIL", "JAPAN")),
        ("I'm based in the middle east", "filter:region", ("MIDDLE EAST",)),
        ("show tables, not charts", "chart", ("table",)),
        ("Honestly I'd rather look at a plain grid of numbers", "chart", ("table",)),
        ("graphs are confusing", "chart", ("table",)),
        ("please stick to bar graphs", "chart", ("bar",)),
        ("I don't want any pie charts", "chart-avoid", ("pie",)),
        ("Numbers in millions", "scale", ("millions",)),
        ("From now on express amounts in billions", "scale", ("billions",)),
        ("round everything to the nearest thousand", "scale", ("thousands",)),
        ("figures in $M please", "scale", ("millions",)),
    ],
)
def test_statements_become_preferences(extractor, message, slot, values):
    extraction = extractor.extract(message)
    assert _prefs(extraction) == {slot: values}
    assert extraction.question == ""  # nothing left to ask the spaces


@pytest.mark.parametrize(
    "question",
    [
        "How many customers are in ASIA?",
        "Only for the BUILDING segment",  # a follow-up refinement, not a standing preference
        "What about 1996?",
        "Show the top 10 instead.",
        "customers with an account balance over 1 million",
        "How many line items were shipped by TRUCK?",
        "I asked about EUROPE yesterday",
        "I don't care about EUROPE",  # exclusions are not filters
        "use thousands separators",
        "Europe",
    ],
)
def test_questions_are_not_preferences(extractor, question):
    extraction = extractor.extract(question)
    assert not extraction.remembers and extraction.question == question


def test_display_words_in_a_question_apply_to_it_only(extractor):
    extraction = extractor.extract("What was revenue by region in 1995 in millions?")
    assert extraction.question == "What was revenue by region in 1995?"
    assert not extraction.preferences
    assert [(p.slot, p.values) for p in extraction.transient] == [("scale", ("millions",))]
    table = extractor.extract("Top 5 nations by revenue in 1995 as a table")
    assert table.question == "Top 5 nations by revenue in 1995"
    assert [(p.slot, p.values) for p in table.transient] == [("chart", ("table",))]


def test_a_statement_and_a_question_in_one_message(extractor):
    extraction = extractor.extract("I only care about GERMANY. Revenue by market segment in 1995?")
    assert _prefs(extraction) == {"filter:nation": ("GERMANY",)}
    assert extraction.question == "Revenue by market segment in 1995?"
    clause = extractor.extract("Revenue by nation in 1995, and from now on show numbers in thousands")
    assert _prefs(clause) == {"scale": ("thousands",)} and clause.question == "Revenue by nation in 1995"


@pytest.mark.parametrize(
    ("message", "clears"),
    [
        ("show all regions again", ("filter:region",)),
        ("forget my segment", ("filter:market segment",)),
        ("stop filtering", ("filter:*",)),
        ("charts are fine again", ("chart", "chart-avoid")),
        ("exact numbers please", ("scale",)),
        ("forget everything I told you", ("*",)),
    ],
)
def test_undoing_a_preference(extractor, message, clears):
    extraction = extractor.extract(message)
    assert extraction.clears == clears and not extraction.preferences and extraction.question == ""


def test_remember_keeps_a_note(extractor):
    extraction = extractor.extract("Remember that our fiscal year starts in April.")
    assert extraction.notes == ("our fiscal year starts in April",) and extraction.question == ""


# --- applied by the agent ------------------------------------------------------------------------------


def test_a_remembered_filter_changes_the_sql_and_the_answer_says_so(make_test_agent):
    agent = make_test_agent()
    ack = agent.ask("I work in the MACHINERY segment", user="ann")
    assert ack.status == "ok" and ack.results == () and "MACHINERY" in ack.text
    result = agent.ask("What was revenue by nation in 1995?", user="ann")
    assert "c_mktsegment IN ('MACHINERY')" in result.results[0].sql
    assert result.text.endswith("Applied your saved preferences: only market segment MACHINERY.")
    assert result.grounding["ok"] and result.memory_status == "saved"
    other = agent.ask("What was revenue by nation in 1995?", user="bob")  # another user: untouched
    assert "MACHINERY" not in other.results[0].sql and "preferences" not in other.text


def test_the_filter_is_not_added_where_the_question_names_the_dimension(make_test_agent):
    agent = make_test_agent()
    agent.ask("my region is EUROPE", user="ann")
    by_region = agent.ask("What was revenue by region in 1995?", user="ann")
    assert "EUROPE" not in by_region.results[0].sql and by_region.results[0].row_count == 5
    asia = agent.ask("How many customers are in ASIA?", user="ann")
    assert "'ASIA'" in asia.results[0].sql and "EUROPE" not in asia.results[0].sql
    followup = agent.ask("What about 1996?", user="ann", thread_id=by_region.thread_id)
    assert followup.route.kind == "follow_up" and followup.results[0].row_count == 5


def test_chart_and_number_preferences_change_the_hint_and_the_text(make_test_agent):
    agent = make_test_agent()
    agent.ask("Bar charts confuse me, I'd rather see tables. Also numbers in millions.", user="ann")
    result = agent.ask("Top 5 nations by revenue in 1995", user="ann")
    hint = result.visualization_hint
    assert hint is not None and hint["type"] == "table" and "as you asked" in hint["reason"]
    assert "133.30M" in result.text and "133,304,213.78" not in result.text
    assert result.grounding == {"ok": True, "unsupported_numbers": []}
    assert "tables instead of charts" in result.text and "numbers in millions" in result.text
    small = agent.ask("How many suppliers are in ASIA?", user="ann")  # nothing to scale
    assert "millions" not in small.text


def test_a_statement_only_turn_streams_an_acknowledgement(make_test_agent):
    events = list(make_test_agent().stream("From now on please keep figures in thousands", user="ann"))
    kinds = [type(e) for e in events]
    assert kinds[0] is RouteDecided and TextDelta in kinds and kinds[-1] is TurnDone
    assert VisualizationReady not in kinds
    result = events[-1].result
    assert result.status == "ok" and result.route.domains == () and "numbers in thousands" in result.text


def test_memory_off_is_disabled_and_says_so(make_test_agent):
    agent = make_test_agent(memory_backend="off")
    assert agent.ask("How many customers are in ASIA?").memory_status == "disabled"
    ack = agent.ask("my region is EUROPE")
    assert ack.memory_status == "disabled" and "Memory is off" in ack.text


def test_listing_and_forgetting_through_the_sdk(make_test_agent):
    agent = make_test_agent()
    agent.ask("I only care about FRANCE. Remember that returns are handled by the ops team.", user="ann")
    agent.ask("How many customers are there?", user="ann")
    memories = agent.memories
    assert memories is not None
    kinds = {m.kind for m in memories.list("ann")}
    assert kinds == {"preference", "note", "domains"}
    assert memories.forget("ann", "pref-filter-nation")
    assert "FRANCE" not in agent.ask("How many customers are there?", user="ann").results[0].sql
    assert memories.forget_all("ann") >= 2 and memories.list("ann") == []


@pytest.mark.parametrize(
    "message",
    [
        "Drop the customer table.",
        "Delete all rows from the orders table",
        "please truncate the lineitem table",
        "Remove the old records from the database",
    ],
)
def test_requests_to_change_data_state_nothing_even_over_a_bare_vocabulary(message):
    """A remote Genie space knows few words: "table" in "Drop the customer table" is then no longer
    masked as data, and must still not become "tables instead of charts"."""
    from genie_agent.understanding.extraction import PreferenceExtractor
    from genie_agent.understanding.vocabulary import SpaceVocabulary

    extraction = PreferenceExtractor(SpaceVocabulary()).extract(message)
    assert not extraction.remembers
    assert extraction.question == message  # left for the router, which refuses it


@pytest.mark.parametrize(
    ("message", "clears"),
    [("Delete my preferences", "*"), ("Remove the filter on EUROPE", "filter:*")],
)
def test_memory_commands_with_write_verbs_are_still_understood(extractor, message, clears):
    assert clears in extractor.extract(message).clears


def test_a_write_request_is_refused_with_memory_on(make_test_agent):
    agent = make_test_agent(memory_backend="sqlite")
    result = agent.ask("Drop the customer table.", user="ann")
    assert result.status == "refused"
    assert agent.memories is not None and agent.memories.list("ann") == []  # nothing was remembered
