"""Plugins: families from the entry-point group `ferbench.families`, their own baselines files,
broken plugins that only warn, the lazy public API, and the example plugin in examples/plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint, entry_points

import pytest
from typer.testing import CliRunner

from ferbench import baselines, bench
from ferbench.cli import app
from ferbench.families import registry

FAKE_MODULE = """
from ferbench.testing import TinyFamily

class GoodFamily(TinyFamily):
    name = "good_plugin_family"
    paper = "goodpaper2024"
    title = "a plugin family (tests)"
    baselines_file = "good_baselines.yaml"

class StrangerNumbers(TinyFamily):
    name = "stranger_numbers_family"
    baselines_file = "stranger_baselines.yaml"

class BadSchema(TinyFamily):
    name = "bad_schema_family"
    baselines_file = "bad_schema_baselines.yaml"

class TakenName(TinyFamily):
    name = "baseline_cnn"

NOT_A_FAMILY = 42
"""

ENTRY = {
    "paper": "goodpaper2024",
    "family": "good_plugin_family",
    "dataset": "fer2013",
    "variant": "original",
    "split_sizes": None,
    "protocol": "official",
    "subject_independent": None,
    "split": "test",
    "selected_on": "val",
    "tta": False,
    "extra_data": False,
    "source": "Table 1",
    "id": "goodpaper2024.fer2013.test",
    "metric": "test_accuracy",
    "value": 0.61,
}


def _baselines_file(**changes) -> str:
    document = {
        "schema": 1,
        "papers": {"goodpaper2024": {"citation": "A. Author, a plugin paper (tests)"}},
        "groups": [{"entries": [{**ENTRY, **changes}]}],
    }
    return json.dumps(document)  # JSON is YAML


PLUGINS = {
    "good_plugin_family": "fake_plugin:GoodFamily",
    "stranger_numbers_family": "fake_plugin:StrangerNumbers",
    "bad_schema_family": "fake_plugin:BadSchema",
    "taken": "fake_plugin:TakenName",
    "not_a_family": "fake_plugin:NOT_A_FAMILY",
    "broken": "broken_plugin:Family",
    "abstract": "ferbench.families.base:Family",
}
BROKEN = {
    "taken": "is taken by",
    "not_a_family": "not a subclass",
    "broken": "cannot import it",
    "abstract": "is abstract",
}


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch):
    """The plugins above installed for one test: modules on sys.path, entry points, a fresh
    plugin state; the built-in families are loaded first, as in a real process."""
    registry.load_all()
    (tmp_path / "fake_plugin.py").write_text(FAKE_MODULE)
    (tmp_path / "broken_plugin.py").write_text("import no_such_module_for_ferbench_tests\n")
    (tmp_path / "good_baselines.yaml").write_text(_baselines_file())
    (tmp_path / "stranger_baselines.yaml").write_text(_baselines_file(family="baseline_cnn", id="stranger.one"))
    (tmp_path / "bad_schema_baselines.yaml").write_text(_baselines_file(family="bad_schema_family", value=57))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_FAMILIES", dict(registry._FAMILIES))
    monkeypatch.setattr(registry, "_PLUGINS", {})
    monkeypatch.setattr(registry, "_state", {"plugins_loaded": False})
    monkeypatch.setattr(baselines, "_WARNED", set())
    points = [EntryPoint(name, value, registry.ENTRY_POINT_GROUP) for name, value in PLUGINS.items()]
    monkeypatch.setattr(registry, "_entry_points", lambda: points)
    yield tmp_path
    for module in ("fake_plugin", "broken_plugin"):
        sys.modules.pop(module, None)


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("warning:")]


def test_plugin_families_join_the_registry_and_broken_ones_only_warn(fake_plugins, capsys):
    families = registry.load_all()
    assert families["good_plugin_family"].__module__ == "fake_plugin"
    assert families["baseline_cnn"].__module__ == "ferbench.families.baseline_cnn"  # the built-in keeps its name
    assert "five_layer_cnn" in families and "not_a_family" not in families
    lines = _warnings(capsys.readouterr().err)
    assert len(lines) == len(BROKEN), lines
    for name, reason in BROKEN.items():
        (line,) = [line for line in lines if f"plugin family {name} (" in line]
        assert reason in line and PLUGINS[name] in line
    registry.load_all()  # loaded once: no second round of warnings
    assert not _warnings(capsys.readouterr().err)
    assert registry.load_plugins()["good_plugin_family"] == "good_plugin_family = fake_plugin:GoodFamily"


def test_commands_see_plugin_families(fake_plugins):
    assert registry.get("good_plugin_family").title == "a plugin family (tests)"
    assert list(bench.select_families("good_plugin_family")) == ["good_plugin_family"]
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "good_plugin_family  [goodpaper2024]  a plugin family (tests)" in result.stdout
    assert "five_layer_cnn" in result.stdout
    for command in (
        ["run", "no_such_family", "--dataset", "synthetic"],
        ["tune", "no_such_family", "--dataset", "synthetic", "--trials", "1", "--data-option", "n_images=14"],
    ):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2 and "good_plugin_family" in result.stderr, result.output


def test_a_plugins_baselines_file_is_read_and_validated_like_published_yaml(fake_plugins, capsys):
    registry.load_all()
    capsys.readouterr()  # the broken plugins' own warnings: tested above
    (entry,) = baselines.for_family("good_plugin_family")
    assert entry["id"] == "goodpaper2024.fer2013.test" and entry["value"] == 0.61
    listed = {m["name"]: m for m in json.loads(CliRunner().invoke(app, ["models", "--json"]).stdout)}
    assert listed["good_plugin_family"]["published"] == [entry]
    assert baselines.get("goodpaper2024.fer2013.test") == entry
    assert "goodpaper2024" in baselines.papers() and "ravi2019" in baselines.papers()
    assert baselines.for_family("five_layer_cnn")  # published.yaml is still read
    assert baselines.for_family("bad_schema_family") == [] and not baselines.for_family("stranger_numbers_family")
    lines = _warnings(capsys.readouterr().err)
    assert len(lines) == 2, lines
    (schema,) = [line for line in lines if "bad_schema_family" in line]
    assert "must be a fraction in [0, 1]" in schema and "bad_schema_baselines.yaml" in schema
    (stranger,) = [line for line in lines if "stranger_numbers_family" in line]
    assert "'baseline_cnn' is not one of the plugin's" in stranger
    baselines.load_all()  # each broken file warns once
    assert not _warnings(capsys.readouterr().err)
    assert baselines.load_all(baselines.PUBLISHED) == [e for e in baselines.load_all() if e["id"] != entry["id"]]


def test_a_plugins_file_may_not_reuse_a_published_id(fake_plugins, capsys):
    registry.load_all()
    capsys.readouterr()  # the broken plugins' own warnings: tested above
    (fake_plugins / "good_baselines.yaml").write_text(_baselines_file(id="ravi2019.jaffe.block4_pool.test"))
    assert baselines.for_family("good_plugin_family") == []
    assert baselines.get("ravi2019.jaffe.block4_pool.test")["family"] == "vgg19_pca_svm"
    assert "the id is already used" in capsys.readouterr().err


def test_the_public_api_is_importable_without_tensorflow():
    code = textwrap.dedent("""
        import sys, ferbench.cli
        import ferbench.families as families
        assert "ferbench.families.base" not in sys.modules
        from ferbench.families import Family, FeatureFamily, KerasFamily, register
        from ferbench.families import registry
        assert register is registry.register and issubclass(KerasFamily, Family)
        assert issubclass(FeatureFamily, Family) and "KerasFamily" in dir(families)
        heavy = [m for m in ("tensorflow", "keras", "mlflow", "optuna") if m in sys.modules]
        assert not heavy, heavy
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import ferbench.families

    with pytest.raises(AttributeError):
        ferbench.families.NoSuchName  # noqa: B018
    with pytest.raises(ImportError):
        from ferbench.families import NoSuchName  # noqa: F401
    assert ferbench.families.Family.__module__ == "ferbench.families.base"


def test_a_family_that_names_its_specs_params_keeps_working_with_a_warning():
    from ferbench.params import Int
    from ferbench.testing import TinyFamily

    with pytest.warns(DeprecationWarning, match="param_specs"):

        class Earlier(TinyFamily):  # how families named their parameter specs before
            name = "earlier_family"
            params = {"steps": Int(7, "gradient steps per epoch", low=1, high=200)}

    assert list(Earlier.params_spec()) == ["steps"] and Earlier().params == {"steps": 7}
    assert Earlier(steps=3).params == {"steps": 3}


# --- the example plugin (examples/plugin; .ci/run installs it) --------------------------------
EXAMPLE = "pixel_mean_logreg"


@pytest.fixture
def example_plugin():
    if not any(e.name == EXAMPLE for e in entry_points(group=registry.ENTRY_POINT_GROUP)):
        pytest.skip("the example plugin is not installed: pip install -e examples/plugin")
    return registry.get(EXAMPLE)


def test_example_plugin_is_listed(example_plugin):
    result = CliRunner().invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    (info,) = [info for info in json.loads(result.stdout) if info["name"] == EXAMPLE]
    assert info["published"] == [] and "logistic regression" in info["title"]
    assert EXAMPLE in baselines.without_numbers()  # from the plugin's own baselines file


def test_example_plugin_runs_from_the_command_line(example_plugin, isolated_store):
    result = CliRunner().invoke(
        app, ["run", EXAMPLE, "--dataset", "synthetic", "--protocol", "holdout", "--set", "C=0.5", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["family"] == EXAMPLE and out["params"]["C"] == 0.5
    assert 0.2 < out["metrics"]["test_accuracy"] <= 1.0  # 7 classes: chance is 0.14


def test_example_plugin_passes_the_family_checks(example_plugin):
    from ferbench.testing import CHECKS

    for check in CHECKS:
        check(example_plugin)
