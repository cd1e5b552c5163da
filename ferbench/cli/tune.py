"""`ferbench tune` (create or resume an Optuna study) and `ferbench studies` (what a storage holds)."""

from __future__ import annotations

import json

import typer

from ferbench.cli._data import DataOption, load_data


def _storage(url: str | None):
    from ferbench import store
    from ferbench.tuning import open_storage

    return open_storage(store.optuna_storage_url(url))


def _value_text(value) -> str:
    """A parameter value as `--set` takes it: true/false, whole numbers, 4 significant digits."""
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _summary(result) -> str:
    """The end of a tune as one block: trial counts, the best trial and its parameters one per
    line, and the once-only test of its retrained configuration."""
    from ferbench.tuning import counts_text

    lines = [f"study {result.study}: {counts_text(result.counts, result.total)}"]
    if result.best:
        lines.append(f"best trial {result.best['trial']}: val accuracy {result.best['val_accuracy']:.4f}")
        params = result.best["params"]
        width = max(map(len, params), default=0)
        lines += [f"  {name:<{width}}  {_value_text(value)}" for name, value in params.items()]
    if result.final:
        metrics = result.final["metrics"]
        scores = ", ".join(
            f"{label} {metrics[key]:.4f}"
            for key, label in (("test_accuracy", "test accuracy"), ("test_macro_f1", "macro-F1"))
            if key in metrics
        )
        lines.append(f"tested once: {scores} (run {result.final['run_id']})")
    if not result.finished:
        lines.append("timeout reached before the target; run the same command to continue")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command()
    def tune(
        family: str = typer.Argument(..., help="registered family name (see `ferbench models`)"),
        dataset: str = typer.Option(..., "--dataset", help="data set reader name, e.g. fer2013, synthetic"),
        path: str | None = typer.Option(None, "--path", help="where the data set lives"),
        data_option: list[str] | None = DataOption,
        protocol: str | None = typer.Option(None, "--protocol", help="e.g. official, holdout:0.2, kfold:5"),
        trials: int = typer.Option(..., "--trials", help="TOTAL finished trials wanted (a resume adds up to it)"),
        timeout: float | None = typer.Option(None, "--timeout", help="stop starting trials after S seconds"),
        study: str | None = typer.Option(None, "--study", help="study name (default family-dataset-protocol)"),
        storage: str | None = typer.Option(None, "--storage", help="SQLAlchemy URL (default ferbench-store/optuna.db)"),
        sampler: str = typer.Option("tpe", "--sampler", help="tpe or random"),
        pruner: str = typer.Option(
            "median",
            "--pruner",
            help=(
                "median, rung (successive halving at the cheap first rung), rung-screen (rung, and the "
                "sampler's random start-up trials stop there), hyperband or none"
            ),
        ),
        seed: int = typer.Option(0, "--seed"),
        set_: list[str] | None = typer.Option(
            None, "--set", metavar="KEY=VALUE", help="hyperparameter fixed, not tuned (repeatable)"
        ),
        space: list[str] | None = typer.Option(
            None, "--space", metavar="KEY=RANGE", help="range override key=low:high or key=a,b (repeatable)"
        ),
        epochs: int | None = typer.Option(None, "--epochs", help="epochs of a full trial"),
        tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
        final: bool = typer.Option(True, "--final/--no-final", help="retrain the best config and test it once"),
        as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
    ) -> None:
        """Tune FAMILY on the validation part: create or resume a study up to --trials trials."""
        from ferbench.errors import FerbenchError
        from ferbench.params import parse_assignments
        from ferbench.tuning import tune as run_tune

        if trials <= 0:  # before loading any data
            raise FerbenchError(f"--trials {trials}: must be a positive number of trials")
        fixed = parse_assignments(set_)
        data = load_data(dataset, path, data_option)
        echo = (lambda text: None) if as_json else typer.echo
        try:
            result = run_tune(
                family,
                data,
                trials=trials,
                protocol=protocol,
                timeout=timeout,
                study_name=study,
                storage=storage,
                sampler=sampler,
                pruner=pruner,
                seed=seed,
                fixed=fixed,
                space=space,
                epochs=epochs,
                tracking_uri=tracking_uri,
                final=final,
                echo=echo,
            )
        except KeyboardInterrupt:
            typer.echo("interrupted: the study is intact; run the same command to resume", err=True)
            raise typer.Exit(130) from None
        if as_json:
            typer.echo(json.dumps(result.as_dict(), default=str, indent=2))
            return
        typer.echo(_summary(result))

    studies_app = typer.Typer(help="Optuna studies in a storage: trial counts, states, best values.")

    @studies_app.callback(invoke_without_command=True)
    def studies(
        ctx: typer.Context,
        storage: str | None = typer.Option(None, "--storage", help="SQLAlchemy URL (default ferbench-store/optuna.db)"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """List the studies with trial counts per state and best value."""
        ctx.obj = {"storage": storage, "json": as_json}
        if ctx.invoked_subcommand is not None:
            return
        from ferbench.tuning import summaries

        rows = summaries(_storage(storage))
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
            return
        if not rows:
            typer.echo("no studies")
        from ferbench.tuning import counts_text

        for r in rows:
            best = "-" if r["best_value"] is None else f"{r['best_value']:.4f} (trial {r['best_trial']})"
            counts = {state.upper(): r[state] for state in ("complete", "pruned", "fail", "running", "waiting")}
            typer.echo(
                f"{r['study']}  {r['family']} on {r['dataset']} [{r['protocol']}]  {r['trials']} trials: "
                f"{counts_text(counts, r['target'])}  best={best}"
            )

    @studies_app.command("show")
    def show(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="study name"),
        storage: str | None = typer.Option(None, "--storage"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """The trials of study NAME: state, value, params."""
        from ferbench.tuning import trial_rows

        parent = ctx.obj or {}
        rows = trial_rows(_storage(storage or parent.get("storage")), name)
        if as_json or parent.get("json"):
            typer.echo(json.dumps(rows, indent=2, default=str))
            return
        for r in rows:
            value = "-" if r["value"] is None else f"{r['value']:.4f}"
            retry = "" if r["retry_of"] is None else f" (retry of {r['retry_of']})"
            typer.echo(f"{r['number']:>4} {r['state']:<8} {value:>7}  {json.dumps(r['params'], default=str)}{retry}")

    app.add_typer(studies_app, name="studies")
