"""A real browser for admin tests: headless Chromium through Selenium, using Debian's
`chromium` and `chromium-driver` packages (never a driver downloaded at run time).

Missing in CI (CI set), the test that opens a browser fails with the command that
installs them; on a developer's machine without them it is skipped, with the same
command as its reason.
"""

import os
import shutil
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

INSTALL = "apt-get install -y chromium chromium-driver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"CI runs the browser tests, but {reason}", pytrace=False)
    # Only off CI: a newcomer without a browser still gets a green run of everything else,
    # told what to install; CI (above) fails instead, so the test is never silently lost.
    pytest.skip(
        f"the admin's browser test needs headless Chromium, which this machine lacks: "
        f"{reason}. CI installs it (.ci/run) and runs this test."
    )


@pytest.fixture
def open_browser() -> Iterator[Callable[[], webdriver.Chrome]]:
    """Opens headless Chromium when the test calls it (so that a missing browser is
    the test's failure, not a fixture error), and closes it after the test."""
    opened = []

    def open_(*arguments: str) -> webdriver.Chrome:
        """`arguments`: more Chromium switches, e.g. to cut it off the internet."""
        missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
        if missing:
            _unavailable(f"{' and '.join(missing)} not found: `{INSTALL}`")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",  # containers and CI run as root
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1400,1000",
            *arguments,
        ):
            options.add_argument(argument)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
        opened.append(driver)
        return driver

    yield open_
    for driver in opened:
        driver.quit()
