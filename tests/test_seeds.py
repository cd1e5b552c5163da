"""Seeds: parsing, and a parent run holding mean, std and a Student-t interval over its children."""

import math
import statistics

import pytest
from scipy import stats

from ferbench.data.synthetic import generate
from ferbench.errors import FerbenchError
from ferbench.seeds import check_seeds, parse_seeds, run_seeds, summarise


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "at least one seed"),
        (" , ", "at least one seed"),
        ("0,0", "given twice"),
        ("-2", ">= 0"),
        ("1.5", "not an integer"),
    ],
)
def test_bad_seeds_are_refused(text, needle):
    with pytest.raises(FerbenchError, match=needle):
        parse_seeds(text)


def test_seeds_keep_their_order():
    assert parse_seeds("2, 0,1") == [2, 0, 1] and check_seeds([3]) == [3]
    with pytest.raises(FerbenchError):
        check_seeds([True])


def test_summary_over_seeds_is_a_t_interval_and_one_seed_has_no_interval():
    many = summarise([{"test_accuracy": v} for v in (0.40, 0.42, 0.44)])
    assert many["n_seeds"] == 3 and math.isclose(many["test_accuracy_mean"], 0.42)
    assert math.isclose(many["test_accuracy_std"], 0.02)
    half = many["test_accuracy_ci_high"] - 0.42
    assert math.isclose(half, 4.302653 * 0.02 / math.sqrt(3), rel_tol=1e-5)  # t(0.975, 2 df)
    near_one = summarise([{"test_accuracy": v} for v in (0.98, 1.0, 1.0)])
    assert near_one["test_accuracy_ci_high"] == 1.0 < 1.0 + 4.302653 * near_one["test_accuracy_std"] / math.sqrt(3)
    one = summarise([{"test_accuracy": 0.5}])
    assert one == {"n_seeds": 1.0, "test_accuracy_mean": 0.5}


def test_run_seeds_makes_a_parent_with_one_child_per_seed(tiny_family, isolated_store):
    from ferbench import record

    data = generate(300, seed=1)
    parent, results, summary = run_seeds("tiny_test_family", data, [0, 1, 2], protocol="holdout", epochs=2)
    client = record.client()
    run = client.get_run(parent)
    assert run.info.status == "FINISHED" and run.data.tags["ferbench.kind"] == "seeds"
    assert run.data.params["seeds"] == "0,1,2"
    children = [client.get_run(r.run_id) for r in results]
    assert [c.data.params["seed"] for c in children] == ["0", "1", "2"]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent}
    accs = [r.metrics["test_accuracy"] for r in results]
    assert math.isclose(run.data.metrics["test_accuracy_mean"], sum(accs) / 3)
    # the Student-t 95% interval of the three children's accuracies, clipped to [0, 1]
    half = stats.t.ppf(0.975, df=2) * statistics.stdev(accs) / math.sqrt(3)
    mean = sum(accs) / 3
    assert run.data.metrics["test_accuracy_ci_low"] == pytest.approx(max(mean - half, 0.0))
    assert run.data.metrics["test_accuracy_ci_high"] == pytest.approx(min(mean + half, 1.0))
    assert summary["n_seeds"] == 3


def test_cli_run_seeds_prints_the_interval_and_refuses_bad_seeds(tiny_family, isolated_store):
    import json

    from typer.testing import CliRunner

    from ferbench.cli import app

    def invoke(*args):
        return CliRunner().invoke(
            app, ["run", "tiny_test_family", "--dataset", "synthetic", "--protocol", "holdout", "--epochs", "1", *args]
        )

    result = invoke("--seeds", "0,1", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [r["seed"] for r in out["runs"]] == [0, 1] and out["summary"]["n_seeds"] == 2
    text = invoke("--seeds", "3,4")
    assert text.exit_code == 0 and "95% CI [" in text.output and "seed 4" in text.output
    for args, needle in (
        (["--seeds", "1,1"], "given twice"),
        (["--seeds", "1", "--seed", "2"], "not both"),
        (["--seeds", ""], "at least one seed"),
    ):
        bad = invoke(*args)
        assert bad.exit_code == 2 and needle in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
