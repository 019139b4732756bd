"""Feedback on turns, end to end: `genie-agent serve` with tracing on into a local MLflow store, its
spaces Databricks Genie spaces answered by the Genie emulator through databricks-sdk.

A user rates their turn up, then down with a comment (the rating is replaced); the rating is a human
assessment on the turn's trace, and Genie has it for each message. Another user's rating, an unknown
id and a turn answered without tracing are refused. `genie-agent monitor` reports the ratings per
space and `genie-agent evaluate --from-feedback` drafts the turns rated down as an evaluation set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

mlflow = pytest.importorskip("mlflow")

from genie_agent.evaluation.dataset import load_eval_set  # noqa: E402
from genie_agent.feedback import FEEDBACK_NAME, user_ratings  # noqa: E402
from genie_agent.genie_api import GenieApi, build_genie_api, serve_in_background  # noqa: E402
from genie_agent.identity import TokenIdentityProvider, UserConfig  # noqa: E402
from genie_agent.spaces.local.conversations import ConversationStore  # noqa: E402
from genie_agent.spaces.local.engine import LocalGenieSpace  # noqa: E402
from genie_agent.spaces.local.executor import ReadOnlyExecutor  # noqa: E402
from genie_agent_cli.main import cli  # noqa: E402
from tests.servers import CLI, serve_home, start_server  # noqa: E402

ANN, BOB = "ann-feedback-token", "bob-feedback-token"  # the users of `serve`
AGENT_SP, OTHER_SP = "agent-sp-genie-token", "other-sp-genie-token"  # the callers Genie knows
EXPERIMENT = "genie-agent-feedback"
FIRST = "Revenue by region in 1995"
CROSS = "What was revenue by region in 1995, and how many suppliers does each region have?"
COMMENT = "Wrong year: I meant 1996"
SERVE_CONFIG = f"""
users:
  ann: {{token: {ANN}}}
  bob: {{token: {BOB}}}
genie_backend: databricks
genie_poll_timeout_s: 30
genie_spaces:
  sales: {{space_id: sales, title: Sales, keywords: [revenue, orders]}}
  supply: {{space_id: supply, title: Supply, keywords: [suppliers, supply cost]}}
"""


@pytest.fixture(scope="module")
def sdk_env() -> Iterator[pytest.MonkeyPatch]:
    """databricks-sdk reads DATABRICKS_* and ~/.databrickscfg: nothing of the machine's may leak in."""
    import os

    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("DATABRICKS_", "ARM_", "AZURE_", "GOOGLE_"))]:
            mp.delenv(name)
        mp.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        yield mp


@pytest.fixture(scope="module")
def genie(tpch_catalog, tpch_db, tmp_path_factory, sdk_env) -> Iterator[tuple[GenieApi, str]]:
    """The Genie emulator (genie-server's Genie API), in this process so the test can look inside."""
    executor = ReadOnlyExecutor(tpch_db)
    conversations = ConversationStore(tmp_path_factory.mktemp("feedback-genie") / "conversations.sqlite")
    spaces = {d.id: LocalGenieSpace(d, executor, conversations) for d in tpch_catalog.spaces}
    users = {
        "agent-sp": UserConfig.model_validate({"token": AGENT_SP}),
        "other-sp": UserConfig.model_validate({"token": OTHER_SP}),
    }
    api = build_genie_api(spaces, TokenIdentityProvider(users), latency_s={"*": 0.1})
    with serve_in_background(api) as url:
        yield api, url


def workspace(url: str, token: str = AGENT_SP) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.core import Config

    return WorkspaceClient(config=Config(host=url, token=token, retry_timeout_seconds=20))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('feedback-mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def served(genie, store, tmp_path_factory, tpch_db) -> Iterator[str]:
    """`genie-agent serve`, tracing on, asking the emulator's Genie spaces as one service principal."""
    _, genie_url = genie
    env = {
        "GENIE_AGENT_MLFLOW_TRACKING_URI": store,
        "GENIE_AGENT_MLFLOW_EXPERIMENT": EXPERIMENT,
        "DATABRICKS_HOST": genie_url,
        "DATABRICKS_TOKEN": AGENT_SP,
        "DATABRICKS_CONFIG_FILE": "/nonexistent/databrickscfg",
    }
    home = serve_home(tmp_path_factory, tpch_db, "feedback-serve")
    # start_server turns tracing off for the servers it starts; this one is about traces.
    command = ["env", "GENIE_AGENT_TRACING=on", CLI, "serve"]
    proc, url = start_server(home, home, SERVE_CONFIG, command=command, env=env, timeout_s=90)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def respond(url: str, token: str | None, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/responses", json=body, headers=headers, timeout=90)


def ask(url: str, question: str, token: str = ANN, **custom: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"input": [{"role": "user", "content": question}]}
    if custom:
        body["custom_inputs"] = custom
    r = respond(url, token, body)
    assert r.status_code == 200, r.text
    result = r.json()["custom_outputs"]
    assert result["status"] == "ok" and result["source"] == "genie", result
    return result


def rate(url: str, turn_id: str, rating: str, comment: str | None = None, token: str = ANN) -> dict[str, Any]:
    feedback = {"turn_id": turn_id, "rating": rating, **({"comment": comment} if comment else {})}
    r = respond(url, token, {"input": [], "custom_inputs": {"feedback": feedback}})
    assert r.status_code == 200, r.text
    return r.json()


def genie_rating(genie_url: str, result: dict[str, Any], domain: str) -> str | None:
    """The rating Genie shows on the message a turn's result came from, read with databricks-sdk."""
    table = next(t for t in result["results"] if t["domain"] == domain)
    message = workspace(genie_url).genie.get_message(domain, table["conversation_id"], table["message_id"])
    return None if message.feedback is None else message.feedback.rating.value


@pytest.fixture(scope="module")
def rated(served, genie) -> dict[str, Any]:
    """Ann rates a turn up, then down with a comment; rates a cross-domain turn up and a follow-up down.
    Bob asks without rating."""
    _, genie_url = genie
    first = ask(served, FIRST)
    up = rate(served, first["turn_id"], "up")
    genie_after_up = genie_rating(genie_url, first, "sales")
    down = rate(served, first["turn_id"], "down", COMMENT)
    cross = ask(served, CROSS)
    cross_up = rate(served, cross["turn_id"], "up")
    follow = ask(
        served,
        "What about 1996?",
        thread_id=first["thread_id"],
        genie_conversation_ids=first["genie_conversation_ids"],
    )
    follow_down = rate(served, follow["turn_id"], "down")
    assert follow_down["custom_outputs"]["status"] == "ok", follow_down
    ask(served, "How many suppliers does each nation have?", token=BOB)
    return {
        "first": first,
        "up": up,
        "genie_after_up": genie_after_up,
        "down": down,
        "cross": cross,
        "cross_up": cross_up,
        "follow": follow,
    }


@pytest.fixture
def tracking(store) -> Iterator[None]:
    mlflow.set_tracking_uri(store)
    yield
    mlflow.set_tracking_uri(None)


# --- the emulator's feedback endpoint, through databricks-sdk ------------------------------------------


def test_the_emulator_records_a_message_rating_from_the_sdk(genie):
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.dashboards import GenieFeedbackRating

    api, url = genie
    w = workspace(url)
    message = w.genie.start_conversation_and_wait("customers", "How many customers are there per region?")
    ids = ("customers", message.conversation_id, message.message_id)
    assert w.genie.get_message(*ids).feedback is None
    w.genie.send_message_feedback(*ids, GenieFeedbackRating.POSITIVE)
    assert w.genie.get_message(*ids).feedback.rating == GenieFeedbackRating.POSITIVE
    w.genie.send_message_feedback(*ids, GenieFeedbackRating.NEGATIVE)  # replaces it
    assert w.genie.get_message(*ids).feedback.rating == GenieFeedbackRating.NEGATIVE
    trace = api.trace(message.message_id)
    assert trace is not None and trace.feedback == "NEGATIVE"
    with pytest.raises(NotFound):  # only the message's own user rates it
        workspace(url, OTHER_SP).genie.send_message_feedback(*ids, GenieFeedbackRating.POSITIVE)
    assert api.trace(message.message_id).feedback == "NEGATIVE"
    path = f"{url}/api/2.0/genie/spaces/customers/conversations/{ids[1]}/messages/{ids[2]}/feedback"
    bad = httpx.post(path, json={"rating": "GREAT"}, headers={"Authorization": f"Bearer {AGENT_SP}"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# --- rating turns through `serve` ------------------------------------------------------------------------


def test_a_rating_is_on_the_turns_trace_and_a_second_one_replaces_it(rated, tracking):
    first, up, down = rated["first"], rated["up"], rated["down"]
    assert first["turn_id"].startswith("tr-")
    assert up["custom_outputs"]["status"] == "ok" and up["custom_outputs"]["feedback"]["replaced"] is False
    outcome = down["custom_outputs"]["feedback"]
    assert outcome["replaced"] is True and outcome["user"] == "ann" and outcome["comment"] == COMMENT
    assert "replacing your earlier rating" in down["output"][-1]["content"][0]["text"]

    trace = mlflow.get_trace(first["turn_id"])
    feedback = [a for a in trace.info.assessments if a.name == FEEDBACK_NAME]
    assert len(feedback) == 2 and [a.valid for a in feedback].count(True) == 1
    (current,) = [a for a in feedback if a.valid]
    assert current.value is False and current.rationale == COMMENT
    assert (current.source.source_type, current.source.source_id) == ("HUMAN", "ann")
    assert current.assessment_id == outcome["assessment_id"]
    (earlier,) = [a for a in feedback if not a.valid]
    assert earlier.value is True and current.overrides == earlier.assessment_id
    assert [(r.user, r.positive) for r in user_ratings(trace)] == [("ann", False)]


def test_genie_gets_the_rating_of_each_message_the_answer_came_from(rated, genie):
    _, genie_url = genie
    assert rated["up"]["custom_outputs"]["feedback"]["genie"] == {"sales": "sent"}
    assert rated["genie_after_up"] == "POSITIVE"
    assert genie_rating(genie_url, rated["first"], "sales") == "NEGATIVE"  # replaced, like MLflow's
    cross = rated["cross"]
    assert rated["cross_up"]["custom_outputs"]["feedback"]["genie"] == {"sales": "sent", "supply": "sent"}
    assert genie_rating(genie_url, cross, "sales") == genie_rating(genie_url, cross, "supply") == "POSITIVE"


def error_of(response: dict[str, Any]) -> dict[str, str]:
    outputs = response["custom_outputs"]
    assert outputs["status"] == "error", outputs
    return outputs["error"]


def test_another_users_turn_an_unknown_one_and_an_untraced_one_are_refused(
    rated, served, make_test_agent, tracking
):
    turn_id = rated["first"]["turn_id"]
    theirs = error_of(rate(served, turn_id, "up", "looks fine to me", token=BOB))
    assert theirs["type"] == "PermissionDeniedError" and "another user" in theirs["message"]
    assert [(r.user, r.positive) for r in user_ratings(mlflow.get_trace(turn_id))] == [("ann", False)]

    unknown = error_of(rate(served, "tr-" + "0" * 32, "up"))
    assert unknown["type"] == "UnknownTurnError" and unknown["hint"]

    untraced = make_test_agent().ask("How many suppliers are in ASIA?")  # tracing off, as `ask` has it
    assert untraced.turn_id and not untraced.turn_id.startswith("tr-")
    error = error_of(rate(served, untraced.turn_id, "down"))
    assert error["type"] == "TurnNotTracedError" and "not traced" in error["message"]
    assert "GENIE_AGENT_TRACING=on" in error["hint"]


def test_malformed_or_unauthenticated_ratings_get_a_clear_4xx(served):
    bad = respond(
        served, ANN, {"input": [], "custom_inputs": {"feedback": {"turn_id": "tr-1", "rating": "meh"}}}
    )
    assert bad.status_code == 400 and "'up' or 'down'" in bad.json()["error"]["message"]
    no_id = respond(served, ANN, {"input": [], "custom_inputs": {"feedback": {"rating": "up"}}})
    assert no_id.status_code == 400 and "turn_id" in no_id.json()["error"]["message"]
    long = {"turn_id": "tr-1", "rating": "down", "comment": "x" * 5000}
    too_long = respond(served, ANN, {"input": [], "custom_inputs": {"feedback": long}})
    assert too_long.status_code == 400 and "limit" in too_long.json()["error"]["message"]
    anonymous = respond(
        served, None, {"input": [], "custom_inputs": {"feedback": {"turn_id": "tr-1", "rating": "up"}}}
    )
    assert anonymous.status_code == 401


def test_a_deployment_without_tracing_says_how_to_turn_it_on(make_test_agent):
    from genie_agent_model.agent import GenieResponsesAgent

    agent = GenieResponsesAgent(make_test_agent())  # tracing off
    turn = agent.agent.ask(FIRST)
    response = agent.predict(
        {"input": [], "custom_inputs": {"feedback": {"turn_id": turn.turn_id, "rating": "up"}}}
    )
    error = response.custom_outputs["error"]
    assert error["type"] == "TurnNotTracedError" and "not traced here" in error["message"]
    assert "GENIE_AGENT_TRACING=on" in error["hint"]


# --- what is done with the ratings ---------------------------------------------------------------------


@pytest.fixture
def cli_env(store, monkeypatch) -> None:
    monkeypatch.setenv("GENIE_AGENT_MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("GENIE_AGENT_MLFLOW_EXPERIMENT", EXPERIMENT)
    monkeypatch.setenv("GENIE_AGENT_TRACING", "off")


def test_monitor_reports_feedback_per_space(rated, cli_env):
    result = CliRunner().invoke(cli, ["monitor", "--since", "1h", "--no-judges", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # stdout is exactly the report; MLflow may warn on stderr
    feedback = {f["space"]: f for f in report["feedback"]}
    sales, supply = feedback["sales"], feedback["supply"]
    # sales: the first turn (down, replacing its up), the cross-domain one (up), the follow-up (down)
    assert (sales["turns"], sales["rated"], sales["up"], sales["down"]) == (3, 3, 1, 2)
    assert sales["positive_rate"] == pytest.approx(1 / 3, abs=1e-3) and sales["rating_rate"] == 1.0
    (comment,) = sales["latest_negative"]  # the follow-up's thumbs-down has no comment
    assert (comment["comment"], comment["user"], comment["question"]) == (COMMENT, "ann", FIRST)
    assert comment["trace_id"] == rated["first"]["turn_id"]
    # supply: the cross-domain turn (up) and bob's turn (not rated)
    assert (supply["turns"], supply["rated"], supply["up"], supply["down"]) == (2, 1, 1, 0)
    assert supply["positive_rate"] == 1.0 and supply["rating_rate"] == 0.5 and supply["latest_negative"] == []

    shown = CliRunner().invoke(cli, ["monitor", "--since", "1h", "--no-judges"])
    assert shown.exit_code == 0, shown.output
    assert "positive" in shown.output and "latest thumbs-down comments, sales" in shown.output
    assert "Wrong year" in shown.output, shown.output


def test_evaluate_from_feedback_drafts_the_turns_rated_down(rated, cli_env, tmp_path: Path):
    out = tmp_path / "drafts" / "from-feedback.yaml"
    args = ["evaluate", "--from-feedback", "--since", "1h", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "2 draft case(s)" in result.output and "expected_sql" in result.output

    drafted = load_eval_set(out)  # loads as an evaluation set as written
    first, follow = drafted.cases
    assert first.kind == "single" and first.question == FIRST and first.turns[0].spaces == ("sales",)
    assert follow.kind == "followup" and [t.question for t in follow.turns] == [FIRST, "What about 1996?"]
    assert all(not t.expected_sql for c in drafted.cases for t in c.turns)  # no truth: a person adds it
    text = out.read_text()
    assert COMMENT in text and rated["first"]["turn_id"] in text and "TODO" in text
    assert "its SQL (sales): SELECT" in text

    again = CliRunner().invoke(cli, args)  # a person's edits are never overwritten
    assert again.exit_code == 2 and "already exists" in again.output
    conflicting = CliRunner().invoke(cli, ["evaluate", "--from-feedback", "--set", str(out)])
    assert conflicting.exit_code == 2 and "does not evaluate" in conflicting.output
