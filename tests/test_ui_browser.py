"""`ferbench ui` for real: the MLflow UI in headless Chromium shows our run beside a paper's.

Starts `ferbench ui` as a subprocess on a free 127.0.0.1 port, syncs the published baselines and
logs one run of ours, then loads the experiment page and the compare page of the two runs and
waits (the UI is a React app) until both runs' accuracy values are on the page.
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
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OURS_ACCURACY = 0.4321
PUBLISHED_ID = "raghuvanshi2016.fer2013.five_layer.test"  # test_accuracy 0.39


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

    profile = tempfile.mkdtemp(prefix="ferbench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage", "--window-size=1600,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield browser
    browser.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def ui_server(isolated_store):
    """Our run + the synced baselines in the test store, then `ferbench ui` on a free port."""
    from ferbench import record
    from ferbench.baselines.sync import sync

    from ferbench import baselines

    sync(entries=baselines.select(paper="raghuvanshi2016"))
    client = record.setup()
    experiment = record.experiment_for("fer2013")
    tags = {"source": "ferbench", "ferbench.kind": "run", "ferbench.family": "five_layer_cnn",
            "ferbench.dataset": "fer2013", "ferbench.protocol": "official", "ferbench.seed": "0"}
    with record.tracked_run(experiment, "ours-five-layer", tags) as ours:
        record.log(ours, params={"protocol": "official", "seed": 0},
                   metrics={"test_accuracy": OURS_ACCURACY})
    published = client.search_runs(
        [experiment], f"tags.`ferbench.baseline_ids` LIKE '%{PUBLISHED_ID}%'")[0].info.run_id

    port = _free_port()
    env = {**os.environ, "FERBENCH_HOME": str(isolated_store)}
    log = open(isolated_store.parent / "ui.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-c", "from ferbench.cli import main; main()", "ui", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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
                    pytest.fail("ferbench ui did not come up: "
                                + (isolated_store.parent / "ui.log").read_text()[-2000:])
                time.sleep(1)
        yield url, experiment, ours, published
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # our own session: ferbench ui and its server
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait_for_texts(driver, texts, timeout=90.0) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        body = driver.find_element("tag name", "body").text
        if all(t in body for t in texts):
            return body
        time.sleep(1)
    raise AssertionError(f"{texts} not all on the page after {timeout:.0f} s; page text: {body[:1500]}")


def test_experiment_and_compare_pages_show_both_runs(driver, ui_server):
    url, experiment, ours, published = ui_server
    driver.get(f"{url}/#/experiments/{experiment}/runs")
    _wait_for_texts(driver, ["ours-five-layer", "published: raghuvanshi2016 five_layer_cnn"])

    runs = urllib.parse.quote(json.dumps([ours, published]))
    experiments = urllib.parse.quote(json.dumps([experiment]))
    driver.get(f"{url}/#/compare-runs?runs={runs}&experiments={experiments}")
    body = _wait_for_texts(driver, ["test_accuracy", str(OURS_ACCURACY), "0.39"])
    assert "train_accuracy" in body  # the paper's extra metric is there, beside ours
