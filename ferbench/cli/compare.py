"""`ferbench compare RUN_A RUN_B`: two runs on the same test images, image by image.

Each accuracy comes with a percentile bootstrap interval over the test images; the verdict is an
exact McNemar test on the images exactly one of the runs got right. Both read the runs' stored
per-image predictions, so no model is loaded and nothing is recomputed.
"""

from __future__ import annotations

import contextlib
import json
import sys

import typer

BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE = 1000, 0, 0.95


def _described(run_id: str, tags: dict, y_true, y_pred) -> dict:
    from ferbench.evaluate import bootstrap_ci
    from ferbench.record.tags import TAG_FAMILY, TAG_SEED

    low, high = bootstrap_ci(
        y_true, y_pred, n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED, confidence=CONFIDENCE
    )
    seed = tags.get(TAG_SEED)
    return {
        "run_id": run_id,
        "family": tags.get(TAG_FAMILY),
        "seed": int(seed) if seed and seed.isdigit() else seed,
        "accuracy": float((y_true == y_pred).mean()),
        "ci_low": low,
        "ci_high": high,
    }


def compare(run_a: str, run_b: str, tracking_uri: str | None = None) -> dict:
    """Both runs' accuracies with bootstrap intervals, and the paired test, as one dict."""
    from ferbench import record
    from ferbench.evaluate import paired_test
    from ferbench.predictions import align, load_predictions

    client = record.setup(tracking_uri)
    y_true, pred_a, pred_b = align(load_predictions(run_a), load_predictions(run_b))
    paired = paired_test(y_true, pred_a, pred_b)
    return {
        "a": _described(run_a, client.get_run(run_a).data.tags, y_true, pred_a),
        "b": _described(run_b, client.get_run(run_b).data.tags, y_true, pred_b),
        "n_images": paired.n,
        "a_only": paired.a_only,
        "b_only": paired.b_only,
        "test": "McNemar exact",
        "p_value": paired.p_value,
        "verdict": paired.verdict,
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": CONFIDENCE},
    }


def verdict_line(result: dict) -> str:
    from ferbench.evaluate import format_p

    a, b, p = result["a"]["run_id"], result["b"]["run_id"], format_p(result["p_value"])
    if result["verdict"] == "within noise":
        return f"{a} and {b} are within noise of each other (McNemar exact, {p})"
    return f"{a} is {result['verdict']} than {b} (McNemar exact, {p})"


def _run_line(label: str, run: dict) -> str:
    family = run["family"] or "unknown family"
    seed = "unknown" if run["seed"] is None else run["seed"]
    return (
        f"{label}  {run['run_id']}  {family}, seed {seed}: accuracy {run['accuracy']:.4f}  "
        f"95% CI [{run['ci_low']:.4f}, {run['ci_high']:.4f}]"
    )


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_command(
        run_a: str = typer.Argument(..., help="MLflow run id of run A"),
        run_b: str = typer.Argument(..., help="MLflow run id of run B"),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow tracking URI (default: ./ferbench-store)"
        ),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    ) -> None:
        """Compare two runs' accuracies on the same test images: bootstrap 95% intervals, exact McNemar test."""
        # Under --json, stray prints from libraries must not corrupt the one JSON object.
        sink = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
        with sink:
            result = compare(run_a, run_b, tracking_uri)
        if as_json:
            typer.echo(json.dumps(result))
            return
        typer.echo(_run_line("A", result["a"]))
        typer.echo(_run_line("B", result["b"]))
        typer.echo(
            f"{result['n_images']} shared test images: {result['a_only']} right only in A, "
            f"{result['b_only']} right only in B"
        )
        typer.echo(verdict_line(result))
