"""A share of selected members stays within the rows the asking user may see.

"What % of revenue comes from ASIA" groups by region and divides by the total; a user whose
access is limited to EUROPE must get that share over EUROPE's rows only, never over every region.
"""

from __future__ import annotations

import pytest

from genie_agent.identity import Identity


@pytest.fixture(scope="module")
def sales(tpch_catalog, tmp_path_factory):
    from genie_agent.spaces.local.conversations import ConversationStore
    from genie_agent.spaces.local.engine import LocalGenieSpace
    from genie_agent.spaces.local.executor import ReadOnlyExecutor

    executor = ReadOnlyExecutor(tpch_catalog.databases["tpch"].path)
    conversations = ConversationStore(tmp_path_factory.mktemp("conv") / "c.sqlite")
    yield LocalGenieSpace(tpch_catalog.space("sales"), executor, conversations, use_verified_queries=False)
    executor.close()


def test_a_restricted_user_gets_the_share_within_their_rows(sales):
    eve = Identity("eve", row_filters={"sales": {"region": ("EUROPE",)}})
    question = "What share of 1995 revenue was from ASIA?"

    everyone = sales.ask(question)
    restricted = sales.ask(question, identity=eve)

    assert everyone.status == restricted.status == "completed"
    assert "'EUROPE'" in restricted.sql and "'EUROPE'" not in everyone.sql
    share = restricted.columns.index("share of revenue")
    assert 0 < everyone.rows[0][share] < 1
    # Within EUROPE's rows there is no ASIA revenue: the share is empty, not ASIA's share of the world.
    assert restricted.rows[0][share] in (None, 0)
