"""Identity end to end: bearer tokens, the spaces a user may query, row filters, and ownership of
threads and Genie conversations, through the real agent over the session's TPC-H DuckDB file."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from genie_agent.errors import UserInputError
from genie_agent.formatting import format_value
from genie_agent.identity import (
    LOCAL_USER,
    AuthenticationError,
    Identity,
    PermissionDeniedError,
    TokenIdentityProvider,
    UserConfig,
    local_identity,
)
from tests.conftest import open_readonly

pytestmark = pytest.mark.usefixtures("tpch_db")

USERS = {
    "sam": UserConfig(spaces=("sales",)),
    "eve": UserConfig(row_filters={"sales": {"region": ("EUROPE",)}}),
    "cal": UserConfig(row_filters={"customers": {"brand": ("Brand#12",)}}),
    "ann": UserConfig(),
    "bob": UserConfig(),
}

SUPPLY_QUESTION = "How many suppliers are there in each region?"
CROSS_QUESTION = "What was revenue by region in 1995, and how many suppliers does each region have?"

_FROM_SALES = """
    FROM lineitem l
    JOIN orders o ON l.l_orderkey = o.o_orderkey
    JOIN customer c ON o.o_custkey = c.c_custkey
    JOIN nation n ON c.c_nationkey = n.n_nationkey
    JOIN region r ON n.n_regionkey = r.r_regionkey
"""
_REVENUE = "SUM(l.l_extendedprice * (1 - l.l_discount))"


def hand_sql(tpch_db, sql: str) -> list[tuple]:
    con = open_readonly(tpch_db)
    try:
        return [tuple(row) for row in con.execute(sql).fetchall()]
    finally:
        con.close()


@pytest.fixture
def agent(make_test_agent):
    return make_test_agent(users=USERS)


def who(name: str) -> Identity:
    return local_identity(name, USERS)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- tokens ---------------------------------------------------------------------------------------


def test_without_users_everyone_is_the_local_user():
    provider = TokenIdentityProvider({})
    assert not provider.requires_token
    for header in (None, "", "Bearer anything", "Basic xyz"):
        identity = provider.authenticate(header)
        assert identity == Identity(LOCAL_USER, authenticated=True)
        assert identity.may_use("supply") and identity.filters_for("sales") == {}


@pytest.fixture
def provider() -> TokenIdentityProvider:
    return TokenIdentityProvider(
        {
            "ann": UserConfig(
                token="tok-ann", spaces=("sales",), row_filters={"sales": {"region": ("EUROPE",)}}
            ),
            "bob": UserConfig(token_sha256=_sha256("tok-bob")),
            "cy": UserConfig(token_sha256=_sha256("tok-cy").upper()),
            "nobody": UserConfig(),  # no token: can never sign in
        }
    )


@pytest.mark.parametrize(
    "header",
    [None, "", "tok-ann", "Basic tok-ann", "Bearer", "Bearer   ", "Token tok-ann", "Bearer tok-ann-x"],
)
def test_missing_malformed_or_unknown_credentials_are_rejected_with_a_hint(provider, header):
    assert provider.requires_token
    with pytest.raises(AuthenticationError) as info:
        provider.authenticate(header)
    assert info.value.hint and ("Bearer" in info.value.hint or "token" in info.value.hint.lower())


def test_an_unknown_token_says_so(provider):
    with pytest.raises(AuthenticationError, match="not valid") as info:
        provider.authenticate("Bearer not-a-known-token")
    assert "token" in info.value.hint.lower()


def test_token_and_token_sha256_both_authenticate_with_the_users_limits(provider):
    ann = provider.authenticate("Bearer tok-ann")
    assert (ann.user, ann.authenticated) == ("ann", True)
    assert ann.spaces == frozenset({"sales"})
    assert ann.may_use("sales") and not ann.may_use("supply")
    assert dict(ann.filters_for("sales")) == {"region": ("EUROPE",)}
    assert ann.filters_for("customers") == {}

    bob = provider.authenticate("bearer  tok-bob ")  # scheme is case-insensitive; spaces trimmed
    assert (bob.user, bob.authenticated, bob.spaces) == ("bob", True, None)
    assert bob.may_use("supply") and bob.filters_for("sales") == {}

    assert provider.authenticate("Bearer tok-cy").user == "cy"  # an upper-case digest works too


def test_user_config_rejects_a_malformed_digest_and_hides_the_token():
    for bad in ("abc", "g" * 64, _sha256("x")[:-1], _sha256("x") + "0"):
        with pytest.raises(ValidationError, match="token_sha256"):
            UserConfig(token_sha256=bad)
    config = UserConfig(token="s3cret-token")
    assert "s3cret-token" not in repr(config) and config.digest() == _sha256("s3cret-token")


def test_local_identity_applies_configured_limits_by_name():
    eve = local_identity("eve", USERS)
    assert (eve.user, eve.authenticated) == ("eve", False)
    assert dict(eve.filters_for("sales")) == {"region": ("EUROPE",)}
    stranger = local_identity("zed", USERS)
    assert stranger == Identity("zed") and stranger.may_use("supply")


# --- spaces ---------------------------------------------------------------------------------------


def test_a_question_for_a_space_the_user_may_not_use_is_refused(agent):
    result = agent.ask(SUPPLY_QUESTION, identity=who("sam"))
    assert result.status == "refused"
    assert result.results == () and result.route.domains == ()
    assert "no access to supply" in result.route.reason
    assert result.text.startswith("You don't have access to Supply")
    # The unrestricted user gets the supply answer the restricted one did not.
    full = agent.ask(SUPPLY_QUESTION, identity=who("ann"))
    assert full.status == "ok" and [r.domain for r in full.results] == ["supply"]
    for row in full.results[0].rows:
        assert format_value(row[1]) not in result.text


def test_a_cross_domain_question_is_answered_from_the_allowed_space_only(agent, tpch_db):
    result = agent.ask(CROSS_QUESTION, identity=who("sam"))
    # The denied space is not asked; the answer says so, so a reader of the text alone is told.
    assert result.status == "partial"
    assert "**Supply** could not answer: You don't have access to this space" in result.text
    assert result.route.kind == "single" and result.route.domains == ("sales",)
    assert "no access to supply" in result.route.reason
    assert [r.domain for r in result.results] == ["sales"]
    assert set(result.genie_conversation_ids) == {"sales"}
    assert result.grounding["ok"]
    data = result.to_dict()
    assert data["route"]["reason"] == result.route.reason and data["domains"] == ["sales"]
    # No supplier figures anywhere: the unrestricted user's supply numbers are absent.
    full = agent.ask(CROSS_QUESTION, identity=who("ann"))
    assert full.status == "ok" and [r.domain for r in full.results] == ["sales", "supply"]
    assert all("supplier" not in (r["sql"] or "") for r in data["results"])
    assert "**Supply** —" in full.text and "**Supply** —" not in result.text
    assert result.results[0].rows == full.results[0].rows  # the sales part is the same answer


def test_asking_a_forbidden_space_by_name_raises_before_any_event(agent):
    events = agent.stream("How many suppliers are there?", identity=who("sam"), domains=["supply"])
    with pytest.raises(PermissionDeniedError, match="supply") as info:
        next(events)
    assert info.value.hint
    with pytest.raises(PermissionDeniedError):
        agent.ask(CROSS_QUESTION, identity=who("sam"), domains=["sales", "supply"])
    assert agent.ask("Revenue by region in 1995", identity=who("sam"), domains=["sales"]).status == "ok"


def test_a_space_limited_user_is_offered_only_spaces_they_may_use(agent):
    supply_samples = set(agent.spaces["supply"].info.sample_questions)
    refused = agent.ask(SUPPLY_QUESTION, identity=who("sam"))
    assert refused.status == "refused"
    declined = agent.ask("What is the weather in Paris?", identity=who("sam"))
    assert declined.status == "out_of_scope"
    for result in (refused, declined):
        assert result.suggested_questions, result.status
        assert not supply_samples & set(result.suggested_questions), result.status
    assert "**Sales**" in declined.text and "**Supply**" not in declined.text


# --- row filters ----------------------------------------------------------------------------------


def test_revenue_by_region_shows_only_the_users_region(agent, tpch_db):
    result = agent.ask("Revenue by region in 1995", identity=who("eve"))
    assert result.status == "ok"
    (table,) = result.results
    expected = hand_sql(
        tpch_db,
        f"SELECT r.r_name, {_REVENUE} {_FROM_SALES} "
        "WHERE YEAR(o.o_orderdate) = 1995 AND r.r_name = 'EUROPE' GROUP BY 1",
    )
    assert len(table.rows) == 1 and table.rows[0][0] == "EUROPE"
    assert table.rows[0][1] == pytest.approx(float(expected[0][1]), rel=1e-9)
    assert "EUROPE" in table.sql and "restricted to region = EUROPE" in result.text
    assert result.grounding["ok"]


def test_revenue_by_nation_shows_only_european_nations(agent, tpch_db):
    result = agent.ask("Revenue by nation in 1995", identity=who("eve"))
    assert result.status == "ok"
    (table,) = result.results
    expected = hand_sql(
        tpch_db,
        f"SELECT n.n_name, {_REVENUE} {_FROM_SALES} "
        "WHERE YEAR(o.o_orderdate) = 1995 AND r.r_name = 'EUROPE' GROUP BY 1",
    )
    european = {
        n
        for (n,) in hand_sql(
            tpch_db,
            "SELECT n.n_name FROM nation n JOIN region r ON n.n_regionkey = r.r_regionkey "
            "WHERE r.r_name = 'EUROPE'",
        )
    }
    got = {row[0]: row[1] for row in table.rows}
    assert set(got) == {name for name, _ in expected} == european
    for name, revenue in expected:
        assert got[name] == pytest.approx(float(revenue), rel=1e-9)


def test_asking_for_another_region_reveals_none_of_its_data(agent, tpch_db):
    result = agent.ask("Revenue in ASIA in 1995", identity=who("eve"))
    ((asia,),) = hand_sql(
        tpch_db,
        f"SELECT {_REVENUE} {_FROM_SALES} WHERE YEAR(o.o_orderdate) = 1995 AND r.r_name = 'ASIA'",
    )
    asia = float(asia)
    assert asia > 0
    assert result.status in ("ok", "clarify")
    for table in result.results:
        assert all(v is None for row in table.rows for v in row if not isinstance(v, str))
        assert table.sql is None or "EUROPE" in table.sql
    dumped = json.dumps(result.to_dict())
    for shown in {format_value(asia), f"{asia:.2f}", str(int(asia)), f"{int(asia):,}", repr(asia)}:
        assert shown not in dumped, shown
    # The unrestricted user does see that number: the check above is not vacuous.
    open_result = agent.ask("Revenue in ASIA in 1995", identity=who("ann"))
    assert open_result.results[0].rows[0][0] == pytest.approx(asia, rel=1e-9)
    assert format_value(asia) in open_result.text


def test_verified_query_is_not_served_to_a_restricted_user(agent, tpch_db):
    question = "What was total revenue in 1996?"
    open_result = agent.ask(question, identity=who("ann"))
    ((total,),) = hand_sql(
        tpch_db,
        f"SELECT {_REVENUE} FROM lineitem l JOIN orders o ON l.l_orderkey = o.o_orderkey "
        "WHERE YEAR(o.o_orderdate) = 1996",
    )
    assert open_result.status == "ok"
    assert "Verified answer" in open_result.results[0].text
    assert "EUROPE" not in open_result.results[0].sql
    assert open_result.results[0].rows[0][0] == pytest.approx(float(total), rel=1e-9)

    restricted = agent.ask(question, identity=who("eve"))
    assert restricted.status == "ok"
    (table,) = restricted.results
    assert "Verified answer" not in table.text and "EUROPE" in table.sql
    ((europe,),) = hand_sql(
        tpch_db,
        f"SELECT {_REVENUE} {_FROM_SALES} WHERE YEAR(o.o_orderdate) = 1996 AND r.r_name = 'EUROPE'",
    )
    assert table.rows[0][0] == pytest.approx(float(europe), rel=1e-9)
    assert format_value(float(total)) not in json.dumps(restricted.to_dict())


def test_a_filter_on_a_dimension_the_space_lacks_fails_closed(agent):
    result = agent.ask("How many customers are in each market segment?", identity=who("cal"))
    assert result.route.domains == ("customers",)
    assert result.status not in ("ok", "partial")
    assert all(t.rows == () for t in result.results)
    assert "brand" in result.text and "Customers" in result.text
    assert result.data == [] and result.visualization_hint is None
    # Other spaces are not affected by a customers-only filter.
    assert agent.ask("Revenue by region in 1995", identity=who("cal")).results[0].row_count == 5


def test_a_quote_in_a_filter_value_does_not_widen_the_rows(make_test_agent):
    users = {"mal": UserConfig(row_filters={"sales": {"region": ("EUROPE') OR (1=1",)}})}
    agent = make_test_agent(users=users)
    result = agent.ask("Revenue by region in 1995", identity=local_identity("mal", users))
    assert all(t.rows == () for t in result.results)


def test_an_empty_allowed_values_list_is_rejected_and_fails_closed(make_test_agent):
    with pytest.raises(ValidationError, match="lists no values"):
        UserConfig(row_filters={"sales": {"region": ()}})
    # An identity built in code with an empty list sees no rows and a clear message.
    agent = make_test_agent()
    result = agent.ask(
        "Revenue by region in 1995", identity=Identity("none", row_filters={"sales": {"region": ()}})
    )
    assert all(t.rows == () for t in result.results)
    assert "allows no values of 'region'" in result.text


# --- threads and Genie conversations --------------------------------------------------------------


def test_a_user_cannot_continue_another_users_thread(agent):
    first = agent.ask("What was the revenue by region in 1995?", identity=who("ann"))
    with pytest.raises(UserInputError, match="not available"):
        agent.ask("What about 1996?", identity=who("bob"), thread_id=first.thread_id)
    with pytest.raises(UserInputError):
        next(agent.stream("What about 1996?", user="bob", thread_id=first.thread_id))
    # Ann still can.
    followup = agent.ask("What about 1996?", identity=who("ann"), thread_id=first.thread_id)
    assert followup.status == "ok" and followup.thread_id == first.thread_id


@pytest.mark.parametrize("domains", [None, ["sales"]], ids=["routed", "sales-chosen"])
def test_another_users_conversation_id_is_not_continued(agent, domains):
    first = agent.ask("What was the revenue by region in 1995?", identity=who("ann"))
    ann_conv = first.genie_conversation_ids["sales"]
    refined = agent.ask(
        "What about 1996?",
        identity=who("ann"),
        genie_conversation_ids={"sales": ann_conv},
        domains=["sales"],
    )
    assert refined.results[0].conversation_id == ann_conv
    ann_sql = refined.results[0].sql
    assert ann_sql and "1996" in ann_sql and "r_name" in ann_sql

    bob = agent.ask(
        "What about 1996?", identity=who("bob"), genie_conversation_ids={"sales": ann_conv}, domains=domains
    )
    assert bob.status != "ok"
    for table in bob.results:
        assert table.sql != ann_sql and table.rows == ()
        assert table.conversation_id != ann_conv
    if domains:
        assert bob.genie_conversation_ids["sales"] != ann_conv
    assert "r_name" not in json.dumps(bob.to_dict())
    # The engine, asked directly, also starts a new conversation for bob.
    answer = agent.spaces["sales"].ask("What about 1996?", ann_conv, identity=who("bob"))
    assert answer.conversation_id != ann_conv and answer.sql != ann_sql
    # Ann's conversation is untouched by bob's attempts.
    again = agent.ask(
        "What about 1997?", identity=who("ann"), genie_conversation_ids={"sales": ann_conv}, domains=["sales"]
    )
    assert again.results[0].conversation_id == ann_conv and "1997" in again.results[0].sql
