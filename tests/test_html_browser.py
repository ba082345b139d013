"""The report page in a real headless Chromium (Debian's chromium + chromium-driver, through Selenium):
it opens from file:// with no request and no console error, shows the missed gate, filters, opens a
permalink, shows a hostile reply as text, lists the regressed samples against a baseline.

Each view is saved as a PNG under the test's tmp folder, or under $PYTEST_EVALSCOPE_SCREENSHOTS when
set (that is how docs/report/*.png, shown in the README, are made).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_evalscope.reporting.html import write_page

from .test_html import BASELINE, EVALSCOPE_RUN, XSS, make_run

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMEDRIVER is None or not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")),
    reason="no chromium installed (apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    chrome = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pages")
    run, base = make_run(root, "20261205_120000"), make_run(root, "20261204_090000", BASELINE, exitstatus=0)
    return {"run": write_page([run], root / "run.html"),
            "baseline": write_page([run], root / "baseline.html", baseline=base),
            "evalscope": write_page([EVALSCOPE_RUN], root / "evalscope.html")}


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("PYTEST_EVALSCOPE_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(driver: Any, page: Path, fragment: str = "") -> None:
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(page.as_uri() + fragment)
    deadline = time.monotonic() + 30
    while not driver.execute_script("return document.body && document.body.dataset.ready === '1'"):
        assert time.monotonic() < deadline, driver.find_element("id", "app").text
        time.sleep(0.02)


def css(driver: Any, selector: str) -> list[Any]:
    return driver.find_elements("css selector", selector)


def shoot(driver: Any, shots: Path, name: str, selector: str) -> None:
    element = css(driver, selector)[0]
    driver.execute_script("arguments[0].scrollIntoView()", element)
    element.screenshot(str(shots / f"{name}.png"))


def test_opens_from_file_with_no_request_and_no_console_error(driver: Any, pages: dict[str, Path], shots: Path) -> None:
    open_page(driver, pages["run"])
    requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert urls == [pages["run"].as_uri()]
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    assert css(driver, "#header h3")[0].text == "m"
    shoot(driver, shots, "header", "#header")


def test_the_gate_panel_shows_the_missed_threshold(driver: Any, pages: dict[str, Path], shots: Path) -> None:
    open_page(driver, pages["run"])
    gate = css(driver, "#gates tr.gate")[0]
    assert gate.get_attribute("data-gate") == "gsm8k" and "missed" in gate.get_attribute("class")
    assert gate.find_element("css selector", ".badge").text == "missed"
    assert css(driver, "#exit-reason")[0].text.startswith("Exit 1: 1 gate(s) missed: gsm8k")
    shoot(driver, shots, "gates", "#gates")
    assert [r.get_attribute("data-key") for r in css(driver, "#scoreboard tr.sub")] == [
        "gsm8k/main", "mmlu/algebra", "mmlu/biology"]
    assert css(driver, "#scoreboard tr.sub svg circle")  # the interval bars
    shoot(driver, shots, "scoreboard", "#scoreboard")


def test_a_filter_narrows_the_table(driver: Any, pages: dict[str, Path], shots: Path) -> None:
    open_page(driver, pages["run"])
    count = css(driver, "#count")[0]
    assert count.text == "showing 15 of 15 samples"
    css(driver, "button[data-filter=failed]")[0].click()
    assert count.text == "showing 7 of 15 samples"
    assert {r.find_element("css selector", ".badge").text for r in css(driver, "#rows .row")} == {"wrong"}
    css(driver, "button[data-filter=truncated]")[0].click()
    assert [r.get_attribute("data-id") for r in css(driver, "#rows .row")] == ["gsm8k/main/5"]
    css(driver, "button[data-filter=all]")[0].click()
    css(driver, "#search")[0].send_keys("boxed\\{(5|7)\\}")
    deadline = time.monotonic() + 5
    while count.text != "showing 2 of 15 samples":
        assert time.monotonic() < deadline, count.text
        time.sleep(0.05)
    css(driver, "#rows .row")[0].click()
    assert css(driver, "#sample")[0].get_attribute("data-id") == "gsm8k/main/1"
    assert css(driver, "#sample details summary")[0].text.startswith("reasoning")  # collapsed
    shoot(driver, shots, "explorer", "#explorer")


def test_a_permalink_opens_its_sample_with_all_repeats(driver: Any, pages: dict[str, Path], shots: Path) -> None:
    open_page(driver, pages["run"], "#s=gsm8k/main/6")
    sample = css(driver, "#sample")[0]
    assert sample.get_attribute("data-id") == "gsm8k/main/6"
    attempts = css(driver, "#sample .attempt")
    assert [a.find_element("css selector", "b").text for a in attempts] == ["attempt 1", "attempt 2"]
    assert [a.find_element("css selector", "pre.target").text for a in attempts] == ["6", "6"]
    assert css(driver, "#rows .row.sel")[0].get_attribute("data-id") == "gsm8k/main/6"
    driver.execute_script("location.hash = '#s=mmlu/biology/2'")
    time.sleep(0.2)
    assert css(driver, "#sample")[0].get_attribute("data-id") == "mmlu/biology/2"
    shoot(driver, shots, "sample", "#sample")


def test_a_hostile_reply_renders_as_text(driver: Any, pages: dict[str, Path]) -> None:
    open_page(driver, pages["run"], "#s=gsm8k/main/2")
    assert css(driver, "#sample pre.reply")[0].get_attribute("textContent") == XSS
    assert driver.execute_script("return document.scripts.length") == 2  # the data and the page's own script
    assert css(driver, "img") == []
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is the check
    css(driver, "#search")[0].send_keys("</script>")
    time.sleep(0.4)
    assert [r.get_attribute("data-id") for r in css(driver, "#rows .row")] == ["gsm8k/main/2"]
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_baseline_view_lists_the_regressed_samples_with_a_diff(driver: Any, pages: dict[str, Path], shots: Path) -> None:
    open_page(driver, pages["baseline"])
    assert {f.get_attribute("data-id") for f in css(driver, "#flips .flip.regressed")} == {
        "gsm8k/main/1", "gsm8k/main/4", "gsm8k/main/7"}
    first = css(driver, "#flips .flip.regressed")[0]
    assert first.find_element("css selector", "pre.diff .del").text.startswith("Baseline")
    assert first.find_element("css selector", "pre.diff .ins").text
    shoot(driver, shots, "baseline", "#baseline")
    css(driver, "button[data-flip=fixed]")[0].click()
    assert [f.get_attribute("data-id") for f in css(driver, "#flips .flip")] == ["gsm8k/main/3"]
    css(driver, "button[data-filter=regressed]")[0].click()
    assert css(driver, "#count")[0].text == "showing 3 of 15 samples"


def test_an_evalscope_run_and_its_timings(driver: Any, pages: dict[str, Path], shots: Path) -> None:
    open_page(driver, pages["evalscope"])
    assert [r.get_attribute("data-key") for r in css(driver, "#scoreboard tr.sub")] == [
        "gsm8k/main", "ifeval/default", "iquiz/IQ", "iquiz/EQ"]
    assert css(driver, "#count")[0].text == "showing 40 of 40 samples"
    assert len(css(driver, "#perf .hist svg")) == 3
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    shoot(driver, shots, "timings", "#perf")
