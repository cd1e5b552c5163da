"""`ferbench ui` for real: the MLflow UI in headless Chromium.

One store for the module: the published baselines, one run of ours and a two-trial study (the
tiny linear family of the tuning tests). `ferbench ui` serves it on a free 127.0.0.1 port; every
test drives a fresh browser profile against it and waits explicitly (the UI is a React app) for
what it checks:
- the experiment page and the compare page show our run beside a paper's;
- where an experiment ferbench created lands (its runs table, not MLflow 3's GenAI overview);
- a study plot renders in the artifact viewer, inside its sandboxed iframe.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tuning_helpers import TinySGD, tiny_dataset  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OURS_ACCURACY = 0.4321
PUBLISHED_ID = "raghuvanshi2016.fer2013.five_layer.test"  # test_accuracy 0.39
PAGE_TIMEOUT = 90  # seconds: the first page load compiles the UI's bundles in a cold browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def driver():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver are not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ferbench-chromium-")  # fresh: no UI choice remembered
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Store:
    url: str
    experiment: str  # ferbench-fer2013: our run and the paper's
    ours: str
    published: str
    study_experiment: str  # ferbench-tinyset: the study
    study_run: str  # the study's parent run, which holds the plots


def _fill_store() -> dict:
    from ferbench import baselines, record
    from ferbench.baselines.sync import sync
    from ferbench.families import registry
    from ferbench.tuning import tune

    sync(entries=baselines.select(paper="raghuvanshi2016"))
    client = record.setup()
    experiment = record.experiment_for("fer2013")
    tags = {
        "source": "ferbench",
        "ferbench.kind": "run",
        "ferbench.family": "five_layer_cnn",
        "ferbench.dataset": "fer2013",
        "ferbench.protocol": "official",
        "ferbench.seed": "0",
    }
    with record.tracked_run(experiment, "ours-five-layer", tags) as ours:
        record.log(ours, params={"protocol": "official", "seed": 0}, metrics={"test_accuracy": OURS_ACCURACY})
    published = client.search_runs([experiment], f"tags.`ferbench.baseline_ids` LIKE '%{PUBLISHED_ID}%'")[0].info.run_id
    registry.register(TinySGD)
    try:
        study = tune(TinySGD.name, tiny_dataset(), trials=2, study_name="browser", pruner="none", final=False)
    finally:
        registry._FAMILIES.pop(TinySGD.name, None)
    return {
        "experiment": experiment,
        "ours": ours,
        "published": published,
        "study_experiment": client.get_run(study.parent_run_id).info.experiment_id,
        "study_run": study.parent_run_id,
    }


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, migrated_mlflow_db):
    """The module's store, filled once, and `ferbench ui` serving it (one server start, ~20 s)."""
    home = tmp_path_factory.mktemp("ui") / "ferbench-store"
    home.mkdir()
    shutil.copy(migrated_mlflow_db, home / "mlflow.db")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERBENCH_HOME", str(home))
        for var in ("MLFLOW_TRACKING_URI", "FERBENCH_OPTUNA_STORAGE"):
            patch.delenv(var, raising=False)
        ids = _fill_store()

    port = _free_port()
    env = {**os.environ, "FERBENCH_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    log_path = home.parent / "ui.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-c", "from ferbench.cli import main; main()", "ui", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("ferbench ui did not come up: " + log_path.read_text()[-2000:])
                time.sleep(1)  # the server, not the browser: nothing to wait on but the port
        yield Store(url=url, **ids)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # our own session: ferbench ui and its server
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait(driver, condition, what: str, timeout: float = PAGE_TIMEOUT):
    """WebDriverWait's polling, failing with what was awaited and what the page shows."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout).until(condition)
    except TimeoutException:
        body = driver.find_elements("tag name", "body")
        text = body[0].text[:1500] if body else ""
        raise AssertionError(f"{what}: not after {timeout:.0f} s at {driver.current_url}; page text: {text}") from None


def _wait_for_texts(driver, texts) -> str:
    def all_there(d):
        body = d.find_element("tag name", "body").text
        return body if all(t in body for t in texts) else False

    return _wait(driver, all_there, f"{texts} on the page")


def _landing_tab(driver) -> str:
    """Where an experiment's bare address redirects: the route after /experiments/<id>/."""

    def redirected(d):
        route = urllib.parse.urlparse(d.current_url).fragment.split("?")[0].split("/")
        return "/".join(route[3:]) if len(route) > 3 and route[3] else False

    return _wait(driver, redirected, "a redirect to one of the experiment's tabs")


def test_experiment_and_compare_pages_show_both_runs(driver, ui_server):
    driver.get(f"{ui_server.url}/#/experiments/{ui_server.experiment}/runs")
    _wait_for_texts(driver, ["ours-five-layer", "published: raghuvanshi2016 five_layer_cnn"])

    runs = urllib.parse.quote(json.dumps([ui_server.ours, ui_server.published]))
    experiments = urllib.parse.quote(json.dumps([ui_server.experiment]))
    driver.get(f"{ui_server.url}/#/compare-runs?runs={runs}&experiments={experiments}")
    body = _wait_for_texts(driver, ["test_accuracy", str(OURS_ACCURACY), "0.39"])
    assert "train_accuracy" in body  # the paper's extra metric is there, beside ours


@pytest.mark.xfail(
    strict=True,
    reason=(
        "MLflow 3.17's UI ignores the mlflow.experimentKind tag: the experiment's landing tab follows "
        "the browser's GenAI / Model training switch (URL workflowType, else localStorage "
        "mlflow.workflowType_v1), which starts on GenAI"
    ),
)
def test_an_experiment_ferbench_created_opens_on_its_runs_table(driver, ui_server):
    driver.get(f"{ui_server.url}/#/experiments/{ui_server.experiment}")
    tab = _landing_tab(driver)
    assert tab == "runs", f"landed on {tab}: {driver.find_element('tag name', 'body').text[:300]}"
    _wait_for_texts(driver, ["ours-five-layer", "Run Name"])


def test_on_model_training_the_experiment_opens_on_its_runs_table(driver, ui_server):
    # the same address with the switch on Model training, as a user sets it once per browser
    driver.get(f"{ui_server.url}/#/experiments/{ui_server.experiment}?workflowType=machine_learning")
    assert _landing_tab(driver) == "runs"
    body = _wait_for_texts(driver, ["ours-five-layer", "published: raghuvanshi2016 five_layer_cnn"])
    assert "Run Name" in body and "Token Usage" not in body  # the runs table, not the GenAI overview


def test_a_study_plot_renders_inside_the_artifact_viewer(driver, ui_server):
    from selenium.webdriver.common.by import By

    driver.get(
        f"{ui_server.url}/#/experiments/{ui_server.study_experiment}/runs/{ui_server.study_run}"
        "/artifacts/study/optimization_history.html"
    )
    frame = _wait(
        driver,
        lambda d: d.find_elements(By.CSS_SELECTOR, "iframe.mlflow-html-iframe"),
        "the artifact viewer's HTML iframe",
    )[0]
    assert frame.get_attribute("sandbox") == "allow-scripts"  # a blob: page: nothing beside it is reachable
    driver.switch_to.frame(frame)
    try:
        paths = _wait(
            driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".main-svg path"), "plotly's drawing inside the iframe"
        )
        titles = [t.text for t in driver.find_elements(By.CSS_SELECTOR, ".main-svg .gtitle")]
        points = driver.find_elements(By.CSS_SELECTOR, ".main-svg .scatterlayer .point")
    finally:
        driver.switch_to.default_content()
    assert len(paths) > 5 and titles == ["Optimization History Plot"]
    assert len(points) >= 2  # one marker per complete trial
