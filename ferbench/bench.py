"""The main job: run every registered family that can run here on one data set, then a table.

Each family is planned first (`runner.prepare`: params, protocol, input size), so a family that
cannot run is listed with its reason before any training starts, and a bad request leaves no
run behind. Under the quick budget a family trains `quick_epochs` with its `quick_params`. A
family whose defaults need something missing here (say, ImageNet weights) runs only when one of
its `bench_params` (a dict, or candidates in order of preference) can run here offline; else it
is skipped. Whatever the bench sets is recorded with the run and listed below the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ferbench.errors import FerbenchError, StoreError, first_line

BUDGETS = ("quick", "paper")


@dataclass
class Row:
    family: str
    status: str  # "ok" | "skipped" | "failed"
    reason: str = ""
    protocol: str = ""
    accuracy: float | None = None
    accuracy_std: float | None = None
    wall_time_s: float | None = None
    run_id: str | None = None
    published: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # what the bench set (quick_params, bench_params)
    note: str = ""  # why the bench set them

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("params", "settings", "note") or v}


@dataclass
class Planned:
    name: str
    plan: Any  # runner.Plan
    settings: dict[str, Any]
    note: str


def select_families(names: str | None) -> dict[str, type]:
    from ferbench.families import registry

    families = registry.load_all()
    if not names:
        return families
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in families]
    if unknown or not wanted:
        raise FerbenchError(
            f"--families: unknown family {', '.join(unknown) or repr(names)}; known: {', '.join(families)}"
        )
    return {n: families[n] for n in wanted}


def epochs_for(family_cls, budget: str) -> int | None:
    if budget not in BUDGETS:
        raise FerbenchError(f"--budget {budget!r} is not one of {', '.join(BUDGETS)}")
    if family_cls.default_epochs is None:
        return None
    if budget == "quick":
        return family_cls.quick_epochs or family_cls.default_epochs
    return family_cls.default_epochs


def offline_params(family_cls) -> dict[str, Any] | None:
    """The first of the family's `bench_params` whose weights load here, or None."""
    from ferbench.weights import BACKBONES, available

    candidates = family_cls.bench_params
    for params in (candidates,) if isinstance(candidates, dict) else candidates:
        backbone = params.get("backbone") or family_cls.backbone_name
        if "weights" not in params or backbone not in BACKBONES or available(backbone, params["weights"]):
            return dict(params)
    return None


def settings_for(family_cls, budget: str) -> tuple[dict[str, Any], str, str | None]:
    """(params the bench sets, why, the reason it cannot run here or None). Under the quick budget
    the family's `quick_params`; when its defaults cannot run here, its `bench_params` if one fits."""
    settings = dict(family_cls.quick_params) if budget == "quick" else {}
    why = ["quick budget"] if settings else []
    reason = family_cls.unavailable_reason()
    if reason:
        offline = offline_params(family_cls)
        if offline is None:
            return settings, "", reason
        settings.update(offline)
        why.append("offline, random weights: never compared" if family_cls.uses_random_weights(settings) else "offline")
    return settings, "; ".join(why), None


def plan_all(families, dataset, *, budget="quick", seed=0, tracking_uri=None):
    """(list of Planned, skipped Rows), nothing trained and no run created."""
    from ferbench import runner

    plans, skipped = [], []
    for name, cls in families.items():
        settings, why, reason = settings_for(cls, budget)
        if reason:
            skipped.append(Row(name, "skipped", reason=reason))
            continue
        try:
            # offline settings are judged by the family's own checks, not by its defaults' needs
            plan = runner.prepare(
                name,
                dataset,
                params=settings,
                epochs=epochs_for(cls, budget),
                seed=seed,
                tracking_uri=tracking_uri,
                check_available=cls.unavailable_reason() is None,
            )
        except StoreError:
            raise  # the store is everyone's problem, not this family's
        except FerbenchError as exc:
            skipped.append(Row(name, "skipped", reason=str(exc)))
            continue
        plans.append(Planned(name, plan, settings, why))
    return plans, skipped


def published_for(family_cls, dataset, protocol: str, params: dict | None = None) -> str:
    """Published test accuracy for this family on this data set and protocol, if any."""
    if dataset.is_synthetic:
        return "n/a (synthetic)"
    if params is not None and family_cls.uses_random_weights(params):
        return "n/a (random weights)"
    from ferbench.baselines import for_family

    values = [
        entry["value"]
        for entry in for_family(family_cls.name)
        if entry.get("dataset") == dataset.name
        and entry.get("protocol") == protocol
        and entry.get("metric") == "test_accuracy"
        and entry.get("value") is not None
    ]
    return ", ".join(f"{v:.3f}" for v in values) if values else "-"


def run_all(plans, dataset, *, quiet=False, tags=None, on_row=None, seeds=None) -> list[Row]:
    """Execute each plan; one family failing is recorded (its run ends FAILED) and the rest go on.
    With `seeds`, each family runs once per seed under a parent run, and its row shows the mean
    and the Student-t 95% interval over seeds."""
    from ferbench import runner

    rows = []
    for planned in plans:
        name, plan = planned.name, planned.plan
        try:
            if seeds:
                row = _seeds_row(name, plan, dataset, seeds, quiet=quiet, tags=tags)
            else:
                result = runner.execute(plan, quiet=quiet, extra_tags=tags)
                m = result.metrics
                row = Row(
                    name,
                    "ok",
                    protocol=result.protocol,
                    accuracy=m.get("test_accuracy"),
                    accuracy_std=m.get("test_accuracy_std"),
                    wall_time_s=result.wall_time_s,
                    run_id=result.run_id,
                    params=result.params,
                )
        except StoreError:
            raise
        except Exception as exc:  # reported below the table and in the exit code
            row = Row(
                name, "failed", reason=f"{type(exc).__name__}: {first_line(exc, 200)}", protocol=plan.protocol.name
            )
        row.settings, row.note = planned.settings, planned.note
        row.published = published_for(plan.family_cls, dataset, row.protocol, plan.params)
        rows.append(row)
        if on_row:
            on_row(row)
    return rows


def _seeds_row(name, plan, dataset, seeds, *, quiet, tags) -> Row:
    from ferbench.seeds import run_seeds

    parent, results, summary = run_seeds(
        name,
        dataset,
        seeds,
        protocol=plan.protocol.name,
        params=plan.params,
        epochs=plan.epochs,
        quiet=quiet,
        extra_tags=tags,
    )
    half = (
        summary["test_accuracy_ci_high"] - summary["test_accuracy_mean"] if "test_accuracy_ci_high" in summary else None
    )
    return Row(
        name,
        "ok",
        protocol=plan.protocol.name,
        accuracy=summary["test_accuracy_mean"],
        accuracy_std=half,
        wall_time_s=sum(r.wall_time_s for r in results),
        run_id=parent,
        params=dict(plan.params),
    )


def table(rows: list[Row], title: str):
    """A rich Table of the families that ran (or failed): family, protocol, accuracy ± std, wall
    time, published, run; it fits 100 columns. What else there is to say: `notes`."""
    from rich.console import JustifyMethod
    from rich.table import Table

    out = Table(title=title, caption="±: std over folds, or the 95% CI half-width over seeds (--seeds)")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("family", "left"),
        ("protocol", "left"),
        ("test accuracy", "right"),
        ("wall time", "right"),
        ("published", "right"),
        ("run", "left"),
    )
    for column, justify in columns:
        out.add_column(column, justify=justify, no_wrap=True)
    for row in rows:
        if row.status == "ok":
            acc = f"{row.accuracy:.3f}" + (f" ± {row.accuracy_std:.3f}" if row.accuracy_std is not None else "")
            out.add_row(
                row.family,
                row.protocol,
                acc,
                f"{row.wall_time_s:.0f} s",
                row.published,
                row.run_id[:8] if row.run_id else "-",
            )
        elif row.status == "failed":
            out.add_row(row.family, row.protocol or "-", "failed", "-", row.published or "-", "-")
    return out


def short_reason(reason: str) -> str:
    """A skip reason in one short line: a missing-weights reason is cut to its summary (the words
    before the first ": "), as `ferbench weights` says which file and where."""
    head = reason.split(": ", 1)[0]
    if "weights" in head.lower() and head != reason:
        return f"{head} (see `ferbench weights`)"
    return reason


def notes(rows: list[Row]) -> list[str]:
    """One line per family with something to say: what the bench set, a failure, a skip."""
    lines = []
    for row in rows:
        if row.settings and row.status != "skipped":
            shown = ", ".join(f"{k}={v}" for k, v in row.settings.items())
            lines.append(f"{row.family} ran with {shown} ({row.note})")
    lines += [f"failed {row.family}: {row.reason}" for row in rows if row.status == "failed"]
    lines += [f"skip {row.family}: {short_reason(row.reason)}" for row in rows if row.status == "skipped"]
    return lines
