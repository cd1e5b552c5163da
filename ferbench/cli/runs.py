"""`ferbench run`, `ferbench models`, `ferbench bench`: training runs, the registry, the main job."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import typer

from ferbench.cli._data import DataOption, load_data
from ferbench.errors import FerbenchError


def _family_params(family_cls, assignments: list[str] | None, weights: str | None) -> dict:
    """--set and --weights as checked family params (errors before any data is read)."""
    from ferbench.params import parse_assignments, resolve

    given = parse_assignments(assignments)
    if weights is not None:
        if "weights" not in family_cls.params_spec():
            raise FerbenchError(f"--weights: family {family_cls.name} has no pretrained weights")
        given["weights"] = weights
    resolve(family_cls.params_spec(), given, f"family {family_cls.name}")
    return given


def stop_word_and_code(exc: KeyboardInterrupt) -> tuple[str, int]:
    """("terminated", 143) for SIGTERM, ("interrupted", 130) for Ctrl-C: the shell's exit codes."""
    from ferbench.record import Terminated

    return ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)


def _interrupted(exc: KeyboardInterrupt, family: str, dataset: str, path, data_options, tracking_uri) -> None:
    """One line on what Ctrl-C (or SIGTERM) left and how to go on; exit 130 (143)."""
    import shlex

    from ferbench.errors import stopped_run

    word, code = stop_word_and_code(exc)
    run_id = stopped_run(exc)
    if run_id is None:
        typer.echo(f"{word}: no run was started", err=True)
    else:
        given = [
            ("--path", path),
            *(("--data-option", text) for text in data_options or ()),
            ("--tracking-uri", tracking_uri),
        ]
        where = "".join(f" {flag} {shlex.quote(str(value))}" for flag, value in given if value)
        typer.echo(
            f"{word}: run {run_id} marked KILLED (resume with ferbench run {family} --dataset "
            f"{dataset}{where} --resume {run_id})",
            err=True,
        )
    raise typer.Exit(code)


def _baseline_line(entry: dict) -> str:
    value = entry.get("value")
    shown = "confusion matrix" if value is None else f"{value:.3f}"
    return (
        f"{entry['dataset']} ({entry.get('variant', '')}) {entry['protocol']} "
        f"{entry['metric']} = {shown}  [{entry.get('source', '')}]"
    )


def _print_seeds(parent: str, seeds: list[int], results, summary: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "parent_run_id": parent,
                    "summary": summary,
                    "runs": [{**r.to_json(), "seed": s} for s, r in zip(seeds, results, strict=True)],
                }
            )
        )
        return
    typer.echo(f"parent run {parent}: {len(results)} seeds")
    for s, r in zip(seeds, results, strict=True):
        typer.echo(f"  seed {s}  run {r.run_id}  test accuracy {r.metrics['test_accuracy']:.3f}")
    mean = summary["test_accuracy_mean"]
    interval = (
        f"  95% CI [{summary['test_accuracy_ci_low']:.3f}, {summary['test_accuracy_ci_high']:.3f}]"
        if "test_accuracy_ci_low" in summary
        else ""
    )
    typer.echo(f"test accuracy mean {mean:.3f}{interval}")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_command(
        family: str = typer.Argument(..., help="registered family name (see `ferbench models`)"),
        dataset: str = typer.Option(..., "--dataset", help="data set name (see `ferbench datasets`)"),
        path: str | None = typer.Option(None, "--path", help="where the data set is on disk"),
        data_option: list[str] | None = DataOption,
        protocol: str | None = typer.Option(
            None, "--protocol", help="official, holdout[:f], kfold[:k], loo, subject-kfold[:k], loso"
        ),
        assignments: list[str] | None = typer.Option(
            None, "--set", metavar="KEY=VALUE", help="hyperparameter (repeatable)"
        ),
        epochs: int | None = typer.Option(None, "--epochs", help="training epochs (default: the family's)"),
        seed: int | None = typer.Option(None, "--seed", help="random seed, recorded with the run (default 0)"),
        seeds: str | None = typer.Option(
            None,
            "--seeds",
            help="comma-separated seeds: one child run per seed under a parent holding their mean, std and 95% CI",
        ),
        weights: str | None = typer.Option(None, "--weights", help="imagenet | none | path (pretrained families only)"),
        tracking_uri: str | None = typer.Option(
            None, "--tracking-uri", help="MLflow tracking URI (default: ./ferbench-store)"
        ),
        resume: str | None = typer.Option(
            None,
            "--resume",
            metavar="RUN_ID",
            help="go on with this stopped run from its checkpoint, with its own settings",
        ),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object, no progress"),
    ) -> None:
        """Train and evaluate one family under a protocol, recorded as an MLflow run."""
        from ferbench import runner
        from ferbench.families import registry

        family_cls = registry.get(family)
        seed_list = None
        if seeds is not None:
            from ferbench.seeds import parse_seeds

            if seed is not None:
                raise FerbenchError("give --seed or --seeds, not both")
            seed_list = parse_seeds(seeds)
        if resume is not None:
            given = [
                flag
                for flag, value in (
                    ("--protocol", protocol),
                    ("--set", assignments),
                    ("--epochs", epochs),
                    ("--seed", seed),
                    ("--seeds", seeds),
                    ("--weights", weights),
                )
                if value not in (None, [])
            ]
            if given:
                raise FerbenchError(f"--resume goes on with the run's own settings: drop {', '.join(given)}")
        else:
            params = _family_params(family_cls, assignments, weights)
        if epochs is not None and epochs < 1:
            raise FerbenchError(f"--epochs {epochs}: must be at least 1")
        data = load_data(dataset, path, data_option)
        # Under --json, stray prints from libraries must not corrupt the one JSON object.
        sink = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
        with sink:
            try:
                if seed_list is not None:
                    from ferbench.seeds import run_seeds

                    parent, results, summary = run_seeds(
                        family,
                        data,
                        seed_list,
                        protocol=protocol,
                        params=params,
                        epochs=epochs,
                        tracking_uri=tracking_uri,
                        quiet=as_json,
                    )
                elif resume is not None:
                    result = runner.resume(resume, data, family=family, tracking_uri=tracking_uri, quiet=as_json)
                else:
                    result = runner.run(
                        family,
                        data,
                        protocol=protocol,
                        params=params,
                        epochs=epochs,
                        seed=0 if seed is None else seed,
                        tracking_uri=tracking_uri,
                        quiet=as_json,
                    )
            except KeyboardInterrupt as exc:
                _interrupted(exc, family, dataset, path, data_option, tracking_uri)
        if seed_list is not None:
            _print_seeds(parent, seed_list, results, summary, as_json)
            return
        if as_json:
            typer.echo(json.dumps(result.to_json()))
            return
        m = result.metrics
        std = f" ± {m['test_accuracy_std']:.3f}" if "test_accuracy_std" in m else ""
        resumed = " (resumed)" if resume is not None else ""
        typer.echo(f"run {result.run_id}{resumed}  {family} on {data.name} ({result.protocol})")
        typer.echo(
            f"test accuracy {m['test_accuracy']:.3f}{std}  macro-F1 {m['test_macro_f1']:.3f}"
            f"  wall time {result.wall_time_s:.1f} s"
        )
        if result.fold_metrics and len(result.fold_metrics) > 1:
            accs = " ".join(f"{f['test_accuracy']:.3f}" for f in result.fold_metrics[:20])
            more = " ..." if len(result.fold_metrics) > 20 else ""
            typer.echo(f"per fold: {accs}{more}")

    @app.command("models")
    def models_command(as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
        """List the registered model families, their papers and published numbers."""
        from ferbench.baselines import for_family
        from ferbench.families import registry

        out: list[dict[str, Any]] = []
        for name, cls in registry.load_all().items():
            out.append(
                {
                    "name": name,
                    "paper": cls.paper,
                    "title": cls.title,
                    "input_shape": list(cls.input_shape),
                    "default_protocol": cls.default_protocol,
                    "default_epochs": cls.default_epochs,
                    "quick_epochs": cls.quick_epochs,
                    "params": {k: p.default for k, p in cls.params_spec().items()},
                    "unavailable": cls.unavailable_reason(),
                    "notes": cls.notes,
                    "published": for_family(name),
                }
            )
        if as_json:
            typer.echo(json.dumps(out, default=str))
            return
        for info in out:
            shape = "x".join(map(str, info["input_shape"]))
            typer.echo(f"{info['name']}  [{info['paper']}]  {info['title']}")
            typer.echo(
                f"    input {shape}, protocol {info['default_protocol'] or '-'}, "
                f"epochs {info['default_epochs'] or '-'} (quick {info['quick_epochs'] or '-'})"
            )
            if info["unavailable"]:
                typer.echo(f"    unavailable here: {info['unavailable']}")
            if info["notes"]:
                typer.echo(f"    notes: {info['notes']}")
            for entry in info["published"]:
                typer.echo(f"    published: {_baseline_line(entry)}")
            if not info["published"]:
                typer.echo("    published: none")

    @app.command("bench")
    def bench_command(
        dataset: str = typer.Option(
            "synthetic", "--dataset", help="data set name (default: the embedded synthetic set)"
        ),
        path: str | None = typer.Option(None, "--path", help="where the data set is on disk"),
        data_option: list[str] | None = DataOption,
        families: str | None = typer.Option(None, "--families", help="comma-separated family names (default: all)"),
        budget: str = typer.Option("quick", "--budget", help="quick (the families' quick epochs and settings) | paper"),
        seed: int = typer.Option(0, "--seed", help="random seed, recorded with every run"),
        seeds: str | None = typer.Option(
            None,
            "--seeds",
            help="comma-separated seeds: each family runs once per seed, its row shows the mean and 95% CI",
        ),
        tracking_uri: str | None = typer.Option(None, "--tracking-uri", help="MLflow tracking URI"),
        as_json: bool = typer.Option(False, "--json", help="print the table as JSON, no progress"),
    ) -> None:
        """Run every family that can run here on one data set and print a leaderboard."""
        from rich.console import Console

        from ferbench import bench, record
        from ferbench.record.tags import TAG_BENCH_BUDGET

        chosen = bench.select_families(families)
        seed_list = None
        if seeds is not None:
            from ferbench.seeds import parse_seeds

            seed_list = parse_seeds(seeds)
            seed = seed_list[0]
        if budget not in bench.BUDGETS:
            raise FerbenchError(f"--budget {budget!r} is not one of {', '.join(bench.BUDGETS)}")
        record.setup(tracking_uri)  # an unusable store fails before any data is read
        data = load_data(dataset, path, data_option)
        plans, skipped = bench.plan_all(chosen, data, budget=budget, seed=seed, tracking_uri=tracking_uri)
        if not as_json:
            later = f"; {len(skipped)} skipped, listed after the table" if skipped else ""
            count = f"{len(plans)} famil{'y' if len(plans) == 1 else 'ies'}"
            typer.echo(f"bench: {count} to run ({', '.join(p.name for p in plans)}){later}", err=True)
        tags = {TAG_BENCH_BUDGET: budget}
        sink = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
        with sink:
            rows = bench.run_all(plans, data, quiet=as_json, tags=tags, seeds=seed_list)
        rows += skipped
        if as_json:
            typer.echo(json.dumps([row.to_json() for row in rows]))
        else:
            # the table fits 100 columns; piped, rich would otherwise assume 80
            console = Console(width=None if sys.stdout.isatty() else 100)
            shown = f"seeds {seeds}" if seed_list else f"seed {seed}"
            title = f"ferbench bench: {data.name} ({data.variant}), budget {budget}, {shown}"
            console.print(bench.table(rows, title))
            for line in bench.notes(rows):  # whole lines: never cut or wrapped by rich
                console.print(line, soft_wrap=True, highlight=False, markup=False)
        if any(row.status == "failed" for row in rows):
            raise typer.Exit(1)
