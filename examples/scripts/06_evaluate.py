"""Evaluate the agent on an evaluation set from Python, and read the gate's verdict.

    python examples/scripts/06_evaluate.py           # the whole example set (32 cases, ~30 s)
    python examples/scripts/06_evaluate.py --quick   # one case of each kind

The set is the TPC-H example's (examples/tpch/eval.yaml: its format is documented at its top). Each
case runs through the agent under MLflow's evaluation, is scored by the code scorers (the LLM judges
too, when GENIE_AGENT_JUDGE_MODEL is set), and the gate decides. The MLflow run goes to the tracking
store under GENIE_AGENT_HOME; the outcome is recorded as JSON beside it. Exits 0 when the gate passes.
"""

import sys
from pathlib import Path

import genie_agent
from genie_agent.evaluation import load_eval_set, run_evaluation

EVAL_SET = Path(__file__).resolve().parents[1] / "tpch" / "eval.yaml"

eval_set = load_eval_set(EVAL_SET)
if "--quick" in sys.argv[1:]:
    first_of_each_kind: dict[str, str] = {}
    for case in eval_set.cases:
        first_of_each_kind.setdefault(case.kind, case.id)
    eval_set = eval_set.select(first_of_each_kind.values())
print(f"Evaluating {len(eval_set.cases)} case(s) of {EVAL_SET.name} ...", flush=True)

outcome = run_evaluation(genie_agent.load_settings(), eval_set=eval_set)

for result in sorted(outcome.cases, key=lambda c: c.passed):  # failures first
    print(f"{'PASS' if result.passed else 'FAIL'}  {result.kind:<12} {result.case_id}")
    for failure in result.failures:
        print(f"      {failure}")
print()
for check in outcome.checks:
    value = "-" if check.value is None else f"{check.value:.3g}"
    limit = (">=" if check.direction == "min" else "<=") + f" {check.threshold:g}"
    print(f"{'ok  ' if check.passed else 'FAIL'}  {check.name:<20} {value:>6}  ({limit})")
print(f"\ngate {'PASSED' if outcome.passed else 'FAILED'} for {outcome.target}")
print(f"MLflow run {outcome.run_id} in {outcome.tracking_uri}; outcome recorded at {outcome.path}")
sys.exit(0 if outcome.passed else 1)
