"""LLM synthesis end to end: the real ``openai`` client against a scripted OpenAI-compatible server.

Also the prompt template: the packaged file, and a round trip through the MLflow Prompt Registry on
a SQLite tracking store.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from genie_agent.config import load_settings
from genie_agent.errors import BackendError, BackendTimeoutError
from genie_agent.grounding import check_grounding
from genie_agent.llm import OpenAICompatibleChat, from_settings
from genie_agent.prompts import PromptText, load_prompt_template, register_prompts
from genie_agent.synthesis import synthesize
from genie_agent.synthesis_llm import LlmSynthesizer, render_results
from genie_agent.turn import ResultTable
from tests.fakes.openai_server import FakeOpenAIServer, Reply, fake_openai, split_deltas

__all__ = ["fake_openai"]  # the fixture, imported for this module

KEY = "sk-test-123"
QUESTION = "What was revenue by nation in 1996, and how is supply doing?"
TITLES = {"sales": "Sales", "supply": "Supply chain"}
SALES = ResultTable(
    "sales",
    "SELECT nation, revenue FROM x",
    ("nation", "revenue"),
    (("FRANCE", 1034567.25), ("GERMANY", 987654.5), ("JAPAN", 45210.75)),
    3,
    False,
    "conv-1",
    text="revenue by nation",
)
RESULTS = [SALES]
FAILURES = {"supply": "The supply space timed out."}
FAITHFUL = (
    "**Sales**: FRANCE had revenue of 1,034,567.25, GERMANY 987,654.5 and JAPAN 45,210.75. "
    "**Supply chain** failed (it timed out), so no figures are given for it."
)
INVENTED = "**Sales**: revenue came to about 1.2M across 22,715 orders, led by FRANCE."


def chat(
    server: FakeOpenAIServer, *, timeout_s: float = 5.0, base_url: str | None = None
) -> OpenAICompatibleChat:
    return OpenAICompatibleChat(
        base_url=base_url or server.base_url, model="fake-model", api_key=KEY, timeout_s=timeout_s
    )


def grounding(text: str) -> dict:
    return dict(check_grounding(text, [r.rows for r in RESULTS], QUESTION, [r.row_count for r in RESULTS]))


# --- the prompt -----------------------------------------------------------------------------------


def test_prompt_file_loads_without_registry_and_without_importing_mlflow_or_openai():
    prompt = load_prompt_template("synthesis")
    assert (prompt.version, prompt.uri, prompt.source) == (None, None, "file")
    assert prompt.variables == {"question", "results"}
    system, user = prompt.messages(question="Q?", results="R")
    assert (
        system["role"] == "system" and "Never write a number that is not in the results" in system["content"]
    )
    assert "{{" not in system["content"] and "<!--" not in system["content"]
    assert user == {"role": "user", "content": "Question: Q?\n\nResults:\n\nR"}
    # Building the LLM path must stay cheap: no mlflow, no openai until a request is made.
    code = (
        "import sys\n"
        "from genie_agent.llm import OpenAICompatibleChat\n"
        "from genie_agent.synthesis_llm import LlmSynthesizer\n"
        "s = LlmSynthesizer(OpenAICompatibleChat(base_url='http://127.0.0.1:9/v1', model='m', api_key=None, timeout_s=1))\n"
        "s.messages('q', [], {'a': 'failed.'}, {})\n"
        "assert 'mlflow' not in sys.modules and 'openai' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_format_is_one_pass_and_missing_variables_are_config_errors():
    prompt = PromptText("t", "A {{ question }} B {{results}}")
    assert prompt.format(question="{{results}}", results="R") == "A {{results}} B R"
    from genie_agent.errors import ConfigError

    with pytest.raises(ConfigError, match="results"):
        prompt.format(question="q")


def test_a_template_without_results_still_sends_the_data():
    synth = LlmSynthesizer(
        OpenAICompatibleChat(base_url="http://127.0.0.1:9/v1", model="m", api_key=None, timeout_s=1),
        prompt=PromptText(
            "synthesis", "Answer from the results only.", "7", "prompts:/genie-agent-synthesis/7"
        ),
    )
    system, user = synth.messages(QUESTION, RESULTS, FAILURES, TITLES)
    assert system == {"role": "system", "content": "Answer from the results only."}
    assert user["role"] == "user" and QUESTION in user["content"] and '["JAPAN", 45210.75]' in user["content"]


def test_results_are_bounded_and_failures_included():
    big = ResultTable("sales", None, ("n", "v"), tuple((f"k{i}", i) for i in range(120)), 120, True, None)
    text = render_results([big], FAILURES, TITLES)
    assert '["k49", 49]' in text and '["k50", 50]' not in text
    assert "Row count: 120 (truncated at the row limit" in text and "only the first 50 rows" in text
    assert "### Supply chain (space supply): FAILED\nError: The supply space timed out." in text


# --- streaming ------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["openai", "databricks"])
def test_deltas_stream_in_order(fake_openai: FakeOpenAIServer, style: str):
    fake_openai.script(Reply(FAITHFUL, chunk_delay_s=0.03))
    base_url = fake_openai.base_url if style == "openai" else fake_openai.databricks_base_url
    synth = LlmSynthesizer(chat(fake_openai, base_url=base_url))
    arrivals = []
    for delta in synth.stream(QUESTION, RESULTS, FAILURES, TITLES):
        arrivals.append((time.monotonic(), delta))
    deltas = [d for _, d in arrivals]
    assert deltas == split_deltas(FAITHFUL) and len(deltas) > 10
    assert "".join(deltas) == FAITHFUL
    # Token by token, not buffered: the first delta arrived well before the last.
    assert arrivals[-1][0] - arrivals[0][0] > 0.2
    assert synth.last_fallback_reason is None
    assert (
        fake_openai.requests[0].path
        == ("/v1" if style == "openai" else "/serving-endpoints") + "/chat/completions"
    )


def test_request_carries_rules_question_results_and_key(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(FAITHFUL))
    "".join(LlmSynthesizer(chat(fake_openai)).stream(QUESTION, RESULTS, FAILURES, TITLES))
    (request,) = fake_openai.requests
    assert request.authorization == f"Bearer {KEY}"
    assert request.body["model"] == "fake-model" and request.body["stream"] is True
    assert request.body["temperature"] == 0.0 and request.body["max_tokens"] == 800
    system, user = request.content("system"), request.content("user")
    assert "Never write a number that is not in the results" in system
    assert "Copy every number exactly" in system and "say that it failed" in system
    assert QUESTION not in system and "FRANCE" not in system  # data only in the user message
    assert f"Question: {QUESTION}" in user
    assert (
        '["FRANCE", 1034567.25]' in user
        and "Row count: 3" in user
        and "Description: revenue by nation" in user
    )
    assert "### Supply chain (space supply): FAILED" in user


def test_invented_numbers_are_flagged_faithful_reply_is_ok(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(INVENTED), Reply(FAITHFUL))
    synth = LlmSynthesizer(chat(fake_openai))
    invented = "".join(synth.stream(QUESTION, RESULTS, FAILURES, TITLES))
    faithful = "".join(synth.stream(QUESTION, RESULTS, FAILURES, TITLES))
    assert invented == INVENTED and faithful == FAITHFUL
    flagged = grounding(invented)
    assert not flagged["ok"] and set(flagged["unsupported_numbers"]) == {"1.2M", "22,715"}
    assert grounding(faithful) == {"ok": True, "unsupported_numbers": []}


# --- failures -------------------------------------------------------------------------------------


def test_500_before_any_token_falls_back_to_deterministic(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(status=500, error_message="model crashed"))
    synth = LlmSynthesizer(chat(fake_openai))
    text = "".join(synth.stream(QUESTION, RESULTS, FAILURES, TITLES))
    assert text == synthesize(RESULTS, FAILURES, TITLES)
    reason = synth.last_fallback_reason
    assert reason is not None and "HTTP 500" in reason and "model crashed" in reason
    assert grounding(text)["ok"]
    # The next answer that succeeds clears the reason.
    fake_openai.script(Reply(FAITHFUL))
    assert "".join(synth.stream(QUESTION, RESULTS, FAILURES, TITLES)) == FAITHFUL
    assert synth.last_fallback_reason is None


def test_empty_reply_falls_back(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(deltas=()))
    synth = LlmSynthesizer(chat(fake_openai))
    assert "".join(synth.stream(QUESTION, RESULTS, FAILURES, TITLES)) == synthesize(RESULTS, FAILURES, TITLES)
    assert "returned no text" in (synth.last_fallback_reason or "")


def test_no_answered_space_needs_no_llm(fake_openai: FakeOpenAIServer):
    synth = LlmSynthesizer(chat(fake_openai))
    text = "".join(synth.stream(QUESTION, [], FAILURES, TITLES))
    assert text == synthesize([], FAILURES, TITLES) and fake_openai.requests == []
    assert synth.last_fallback_reason is None


def test_failure_mid_stream_raises(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(FAITHFUL, error_after=3, error_message="overloaded"))
    got: list[str] = []
    with pytest.raises(BackendError, match="overloaded") as info:
        for delta in LlmSynthesizer(chat(fake_openai)).stream(QUESTION, RESULTS, FAILURES, TITLES):
            got.append(delta)
    assert got == split_deltas(FAITHFUL)[:3] and info.value.retryable


def test_429_is_retryable(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(status=429, error_message="slow down"))
    with pytest.raises(BackendError) as info:
        list(chat(fake_openai).stream_chat([{"role": "user", "content": "hi"}]))
    err = info.value
    assert type(err) is BackendError and err.retryable
    assert "HTTP 429" in err.message and "slow down" in err.message and "fake-model" in err.message
    assert len(fake_openai.requests) == 1  # no hidden client retries


def test_401_hint_names_the_api_key(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(status=401, error_message="Invalid token"))
    with pytest.raises(BackendError) as info:
        list(chat(fake_openai).stream_chat([{"role": "user", "content": "hi"}]))
    err = info.value
    assert not err.retryable and "HTTP 401" in err.message
    assert "API key" in err.hint and "GENIE_AGENT_LLM_API_KEY" in err.hint
    assert fake_openai.base_url in err.message


def test_hang_times_out_within_the_limit(fake_openai: FakeOpenAIServer):
    fake_openai.script(Reply(hang=True))
    start = time.monotonic()
    with pytest.raises(BackendTimeoutError) as info:
        list(chat(fake_openai, timeout_s=0.5).stream_chat([{"role": "user", "content": "hi"}]))
    assert time.monotonic() - start < 3.0
    assert info.value.retryable and "0.5 s" in info.value.message


def test_slow_stream_is_cut_at_the_time_limit(fake_openai: FakeOpenAIServer):
    # Margins are wide (8 chunks x 0.4 s against a 1.5 s limit) so a loaded CI machine still sees some.
    fake_openai.script(Reply("one two three four five six seven eight", chunk_delay_s=0.4))
    got: list[str] = []
    with pytest.raises(BackendTimeoutError):
        for delta in chat(fake_openai, timeout_s=1.5).stream_chat([{"role": "user", "content": "hi"}]):
            got.append(delta)
    assert 1 <= len(got) < 8


def test_unreachable_endpoint_is_a_retryable_backend_error():
    unused = OpenAICompatibleChat(base_url="http://127.0.0.1:9/v1", model="m", api_key=None, timeout_s=2)
    with pytest.raises(BackendError) as info:
        list(unused.stream_chat([{"role": "user", "content": "hi"}]))
    assert info.value.retryable and "could not be reached" in info.value.message


def test_from_settings(fake_openai: FakeOpenAIServer):
    assert from_settings(load_settings()) is None
    built = from_settings(
        load_settings(
            llm_base_url=fake_openai.databricks_base_url, llm_model="databricks-llama", llm_api_key="dapi-x"
        )
    )
    assert built is not None and built.model == "databricks-llama" and fake_openai.requests == []
    assert "dapi-x" not in repr(built)
    fake_openai.script(Reply("Hello there"))
    assert "".join(built.stream_chat([{"role": "user", "content": "hi"}])) == "Hello there"
    assert fake_openai.requests[0].authorization == "Bearer dapi-x"


# --- the registry ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SQLAlchemy deprecations inside mlflow's store
def test_prompt_registry_round_trip(tmp_path: Path, fake_openai: FakeOpenAIServer):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    packaged = load_prompt_template("synthesis")
    # Nothing registered yet: the file.
    assert load_prompt_template("synthesis", registry=True, tracking_uri=uri) == packaged

    registered = register_prompts(uri)
    assert registered["synthesis"].version == "1"
    assert registered["synthesis"].uri == "prompts:/genie-agent-synthesis/1"
    assert register_prompts(uri)["synthesis"].version == "1"  # unchanged file: no new version

    loaded = load_prompt_template("synthesis", registry=True, tracking_uri=uri)
    assert (loaded.version, loaded.uri, loaded.source) == (
        "1",
        "prompts:/genie-agent-synthesis/1",
        "registry",
    )
    assert loaded.template == packaged.template

    # A version edited in the registry wins over the file, and the synthesizer sends it.
    edited = packaged.template.replace("Be brief:", "Be very brief:")
    MlflowClient(tracking_uri=uri).register_prompt("genie-agent-synthesis", edited)
    latest = load_prompt_template("synthesis", registry=True, tracking_uri=uri)
    assert (latest.version, latest.template) == ("2", edited)

    fake_openai.script(Reply(FAITHFUL))
    synth = LlmSynthesizer(chat(fake_openai), registry=True, tracking_uri=uri)
    "".join(synth.stream(QUESTION, RESULTS, FAILURES, TITLES))
    assert synth.prompt.version == "2" and "Be very brief:" in fake_openai.requests[0].content("system")

    # A broken registry falls back to the file.
    assert load_prompt_template("synthesis", registry=True, tracking_uri="bogus-scheme://x") == packaged
