"""The MLflow UI, in headless Chromium driven by selenium, shows a smoke run's description and parameters, and
a sweep's trials nested under its parent run.

Uses Debian's chromium and chromedriver (.ci/run installs them); skips with the reason when they are missing.
The screenshots are kept as test outputs: test-output/mlflow-run-page.png, test-output/mlflow-sweep.png.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, Project, skip_unless_required

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1400,1600")
SCREENSHOT = REPO / "test-output" / "mlflow-run-page.png"
SWEEP_SCREENSHOT = REPO / "test-output" / "mlflow-sweep.png"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not chromedriver:
        skip_unless_required("Debian's chromium and chromium-driver are not installed "
                             "(apt-get install chromium chromium-driver)", "REQUIRE_BROWSER")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


def test_run_page_shows_description_and_a_parameter(project: Project, mlflow_url: str, browser: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", f"tracking.uri={mlflow_url}",
                              "--set", "train.epochs=2", "--set", "description=Browser check of the run page")
    assert result.code == 0, result.stderr
    report = result.json()
    browser.get(f"{mlflow_url}/#/experiments/{report['experiment_id']}/runs/{report['run_id']}")
    WebDriverWait(browser, 90).until(lambda page: "Browser check of the run page" in page.page_source)
    WebDriverWait(browser, 30).until(lambda page: "train.optimizer.lr" in page.page_source)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_sweeps_trials_are_nested_under_its_parent_on_the_experiment_page(project: Project, mlflow_url: str,
                                                                          browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    project.write("configs/sweeps/nested.yaml", "config: ../local.yaml\nset: [train.epochs=1]\nmax_parallel: 2\n"
                  "objective: {metric: val_accuracy}\nparameters:\n  train.optimizer.lr: {values: [0.001, 0.01]}\n")
    result = project.smlaunch("sweep", "configs/sweeps/nested.yaml", "--output", "json", "--set",
                              f"tracking.uri={mlflow_url}")
    assert result.code == 0, result.stderr[-3000:]
    report = result.json()
    children = [trial["run_id"] for trial in report["trials"]]

    def links(run_id: str) -> list[Any]:
        return list(browser.find_elements(By.CSS_SELECTOR, f"a[href$='/runs/{run_id}']"))

    browser.get(f"{mlflow_url}/#/experiments/{report['experiment_id']}/runs")
    WebDriverWait(browser, 90).until(lambda page: links(report["parent_run_id"]))
    assert all(not links(child) for child in children)  # collapsed under the parent, not beside it
    (parent,) = links(report["parent_run_id"])
    cell = parent.find_element(By.XPATH, "./ancestor::div[contains(@class, 'ag-cell-wrapper')]")
    cell.find_element(By.CSS_SELECTOR, "button[data-component-id*='runnamecellrenderer']").click()  # expand
    WebDriverWait(browser, 30).until(lambda page: all(links(child) for child in children))
    SWEEP_SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SWEEP_SCREENSHOT))
