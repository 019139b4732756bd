"""Rating answers in the chat: ``+`` / ``-`` (on a focused answer or in the empty question box), ``c``
for a comment, ``/up`` ``/down`` ``/comment``, through the target's SDK client, on every target.

Real targets: the embedded agent (traced the way the chat traces it, its spaces Databricks Genie spaces
on the Genie emulator), `genie-agent serve` (--url) and genie-server's serving endpoint (--endpoint),
both with tracing on. A rating lands on the turn's MLflow trace (read back from the store) and, for
Genie spaces, on the Genie message. Errors (no trace, an unknown turn, no turn id) show under the answer
with what to do; scripted HTTP answers (an httpx transport: the network edge) stand in for a server's
refusals."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from genie_agent.identity import Identity
from genie_agent_tui.screens.comment import CommentScreen
from genie_agent_tui.screens.sessions import SessionsScreen
from genie_agent_tui.targets import (
    InProcessTarget,
    ResponsesEndpointTarget,
    ServingEndpointTarget,
    TargetSpec,
)
from genie_agent_tui.widgets.notice import Notice

from .conftest import CLI, ask, serve_home, start_serve, submit, wait_until

pytestmark = pytest.mark.anyio
SIZE = (100, 30)
ANN = "ann-rating-token-1234"


def _notes(app) -> list[str]:
    """What the app notifies, as it happens."""
    notes: list[str] = []
    app.notify = lambda message, **kwargs: notes.append(message)
    return notes


def _rating_line(turn) -> str:
    return str(turn.feedback.line.render()) if turn.feedback.line.display else ""


async def _rated(pilot, turn, fragment: str) -> None:
    def done() -> bool:
        line = _rating_line(turn)
        return (fragment in line and "sending" not in line) or bool(turn.feedback.query(Notice))

    await wait_until(pilot, done, 60)
    assert not turn.feedback.query(Notice), turn.feedback.query_one(Notice).message


# --- errors: no trace, an unknown turn, no turn id ---------------------------------------------------


async def test_rating_an_untraced_answer_says_how_to_trace_turns(embedded_target, make_app):
    app = make_app(embedded_target)  # the test agent: tracing off
    notes = _notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus")
        await pilot.pause()
        assert "no answer to rate" in notes[-1]
        await ask(pilot, "Total revenue in 1995")
        assert "+ / -" in app.query_one("#prompt").placeholder
        turn = app.chat_log.turns[-1]
        await pilot.press("plus")  # in the empty question box: the last answer
        await wait_until(pilot, lambda: bool(turn.feedback.query(Notice)))
        notice = turn.feedback.query_one(Notice)
        assert notice.kind == "error" and "not traced" in notice.message
        assert "GENIE_AGENT_TRACING=on" in notice.hint
        assert turn.rating is None and not turn.feedback.line.display
        assert app.query_one("#prompt").value == ""  # the + was not typed


def _scripted(seen: list[dict], *, turn_id: str | None, feedback: dict) -> httpx.MockTransport:
    """A served agent: a one-space answer (with ``turn_id``), and ``feedback`` as its rating's custom_outputs."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        text = "Revenue: 1."
        if "feedback" in body.get("custom_inputs", {}):
            outputs, text = feedback, "Thanks: your rating is recorded."
        else:
            outputs = {"status": "ok", "results": [], "thread_id": "thread-1"}
            if turn_id:
                outputs["turn_id"] = turn_id
        message = {
            "type": "message",
            "id": "m",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }
        events = [
            {"type": "response.output_text.delta", "item_id": "m", "delta": text},
            {"type": "response.output_item.done", "item": message, "custom_outputs": outputs},
        ]
        chunks = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=chunks)

    return httpx.MockTransport(handler)


def _url_target(transport: httpx.MockTransport) -> ResponsesEndpointTarget:
    return ResponsesEndpointTarget(TargetSpec("url", "http://127.0.0.1:9"), transport=transport)


async def test_a_refused_rating_shows_under_the_answer_and_the_earlier_rating_stands(make_app):
    seen: list[dict] = []
    refusal = {
        "status": "error",
        "error": {
            "type": "UnknownTurnError",
            "message": "There is no traced turn tr-7.",
            "hint": "Rate a turn by the turn_id its answer carries, on the deployment that answered it.",
        },
    }
    app = make_app(_url_target(_scripted(seen, turn_id="tr-7", feedback=refusal)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue")
        turn = app.chat_log.turns[-1]
        await submit(pilot, "/down it is last year's")
        await wait_until(pilot, lambda: bool(turn.feedback.query(Notice)))
        assert seen[-1]["custom_inputs"] == {
            "feedback": {"turn_id": "tr-7", "rating": "down", "comment": "it is last year's"}
        }
        notice = turn.feedback.query_one(Notice)
        assert (
            notice.message == "There is no traced turn tr-7." and "turn_id its answer carries" in notice.hint
        )
        assert turn.rating is None


async def test_an_answer_without_a_turn_id_cannot_be_rated_and_comments_need_a_rating(make_app):
    seen: list[dict] = []
    app = make_app(_url_target(_scripted(seen, turn_id=None, feedback={})))
    notes = _notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue")
        turn = app.chat_log.turns[-1]
        turn.focus()
        await pilot.press("c")  # nothing to comment on yet
        await pilot.pause()
        assert "Rate the answer first" in notes[-1]
        await pilot.press("minus")  # on the focused answer
        await wait_until(pilot, lambda: bool(turn.feedback.query(Notice)))
        assert "carries no turn id" in turn.feedback.query_one(Notice).message
        assert len(seen) == 1  # the question only: no rating was sent


# --- the embedded agent, traced as the chat traces it ----------------------------------------------


@pytest.fixture
def mlflow_store(_isolated_genie_agent_home):
    mlflow = pytest.importorskip("mlflow")
    yield mlflow
    mlflow.set_tracking_uri(None)


@pytest.mark.slow
async def test_rating_on_the_embedded_agent_reaches_the_trace_and_genie(
    make_genie_agent, genie_emulator, make_app, mlflow_store, _isolated_genie_agent_home, request
):
    from genie_agent.config import load_settings
    from genie_agent.feedback import user_ratings
    from genie_agent_tui.tracing import BackgroundTracer

    mlflow = mlflow_store
    # Once in a full CI run (not reproduced alone) MLflow gave this test's second turn a no-op span;
    # MLflow says why only at debug level, which then shows in the captured stderr of a failure.
    fluent = logging.getLogger("mlflow.tracing.fluent")
    level = fluent.level
    fluent.setLevel(logging.DEBUG)
    request.addfinalizer(lambda: fluent.setLevel(level))
    api, _ = genie_emulator
    settings = load_settings(home=_isolated_genie_agent_home)
    agent = make_genie_agent()
    tracer = BackgroundTracer(settings.tracking_uri(), settings.mlflow_experiment)
    agent.tracer = tracer  # as with_chat_tracing does, started after the first answer below
    app = make_app(InProcessTarget(lambda: agent, identity=Identity("local")))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How many suppliers does each region have?")  # before tracing is ready
        early = app.chat_log.turns[-1]
        tracer.start()
        await asyncio.to_thread(tracer.configure)
        await ask(pilot, "Revenue by region in 1995", timeout=60)
        turn = app.chat_log.turns[-1]
        turn.focus()
        await pilot.press("plus")
        await _rated(pilot, turn, "rated up")
        store = mlflow.MlflowClient(tracking_uri=settings.tracking_uri())
        (rating,) = user_ratings(store.get_trace(turn.turn_id))
        assert rating.user == "local" and rating.positive and rating.comment is None
        message_id = turn.outputs.results[0].message_id
        assert api.trace(message_id).feedback == "POSITIVE"  # Genie has it too

        await pilot.press("c")  # a comment on the rating: sent again with it
        await wait_until(pilot, lambda: isinstance(app.screen, CommentScreen))
        app.screen.query_one("#comment-input").value = "Right regions, but I wanted 1996"
        await pilot.press("enter")
        await _rated(pilot, turn, "I wanted 1996")
        (rating,) = user_ratings(store.get_trace(turn.turn_id))  # replaced: one valid rating
        assert rating.positive and rating.comment == "Right regions, but I wanted 1996"

        app.query_one("#prompt").focus()
        await pilot.press("minus")  # the empty question box: the last answer
        await _rated(pilot, turn, "rated down")
        (rating,) = user_ratings(store.get_trace(turn.turn_id))
        assert not rating.positive and api.trace(message_id).feedback == "NEGATIVE"

        early.focus()
        await pilot.press("plus")
        await wait_until(pilot, lambda: bool(early.feedback.query(Notice)))
        notice = early.feedback.query_one(Notice)
        assert "not traced" in notice.message and "tracing was still starting" in notice.hint

        await pilot.press("ctrl+n", "ctrl+o")  # a reopened chat shows its ratings
        await wait_until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(app.chat_log.turns) == 2)
        await pilot.pause()
        restored = app.chat_log.turns[1]
        assert "rated down" in _rating_line(restored) and app.chat_log.turns[0].rating is None


# --- served targets: `genie-agent serve` and genie-server's serving endpoint, tracing on --------------


def _store_trace(home, turn_id: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{home / 'mlflow.db'}").get_trace(turn_id)


@pytest.fixture(scope="module")
def traced_serve(tmp_path_factory, tpch_db):
    home = serve_home(tmp_path_factory, tpch_db, "rating-serve")
    config = f"users:\n  ann: {{token: {ANN}}}\n"
    command = ["env", "GENIE_AGENT_TRACING=on", CLI, "serve"]
    proc, url = start_serve(home, home, config, command=command, timeout_s=180)
    yield home, url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
async def test_rating_on_a_local_endpoint(traced_serve, make_app, mlflow_store):
    from genie_agent.feedback import user_ratings

    home, url = traced_serve
    app = make_app(ResponsesEndpointTarget(TargetSpec("url", url, token=ANN)))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Top 5 nations by revenue in 1996", timeout=60)
        turn = app.chat_log.turns[-1]
        assert turn.turn_id and turn.turn_id.startswith("tr-")
        await submit(pilot, "/up exactly what I needed")
        await _rated(pilot, turn, "exactly what I needed")
        (rating,) = user_ratings(_store_trace(home, turn.turn_id))
        assert rating.user == "ann" and rating.positive and rating.comment == "exactly what I needed"


@pytest.fixture(scope="module")
def traced_genie_server(tmp_path_factory, tpch_db):
    home = serve_home(tmp_path_factory, tpch_db, "rating-genie-server")
    command = ["env", "GENIE_AGENT_TRACING=on", CLI, "genie-server"]
    proc, url = start_serve(home, home, command=command, timeout_s=180)
    yield home, url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
async def test_rating_on_a_serving_endpoint_through_genie_server(
    traced_genie_server, make_app, monkeypatch, mlflow_store
):
    from genie_agent.feedback import user_ratings

    home, url = traced_genie_server
    monkeypatch.setenv("DATABRICKS_HOST", url)
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-local-test")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/.databrickscfg")
    app = make_app(ServingEndpointTarget(TargetSpec("endpoint", "genie-agent")))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Revenue by region in 1995", timeout=60)
        turn = app.chat_log.turns[-1]
        turn.focus()
        await pilot.press("minus")
        await _rated(pilot, turn, "rated down")
        (rating,) = user_ratings(_store_trace(home, turn.turn_id))
        assert not rating.positive
