"""The MLflow UI, in headless Chromium driven by selenium, shows a smoke run's description and parameters.

Uses Debian's chromium and chromedriver (.ci/run installs them); skips with the reason when they are missing.
The screenshot is kept as a test output: test-output/mlflow-run-page.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO, Project, skip_unless_required

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic", "--window-size=1400,1600")
SCREENSHOT = REPO / "test-output" / "mlflow-run-page.png"


def test_run_page_shows_description_and_a_parameter(project: Project, mlflow_url: str, tmp_path: Path) -> None:
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not chromedriver:
        skip_unless_required("Debian's chromium and chromium-driver are not installed "
                             "(apt-get install chromium chromium-driver)", "REQUIRE_BROWSER")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", "--set", f"tracking.uri={mlflow_url}",
                              "--set", "train.epochs=2", "--set", "description=Browser check of the run page")
    assert result.code == 0, result.stderr
    report = result.json()

    options = Options()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        browser.get(f"{mlflow_url}/#/experiments/{report['experiment_id']}/runs/{report['run_id']}")
        WebDriverWait(browser, 90).until(lambda page: "Browser check of the run page" in page.page_source)
        WebDriverWait(browser, 30).until(lambda page: "train.optimizer.lr" in page.page_source)
        SCREENSHOT.parent.mkdir(exist_ok=True)
        browser.save_screenshot(str(SCREENSHOT))
    finally:
        browser.quit()
    assert SCREENSHOT.stat().st_size > 10_000
