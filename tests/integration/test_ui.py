"""The live view (GET /ui) and the drill report (stagesim drill --html) in
headless Chromium, driven by Selenium (Debian's chromium, chromium-driver
and python3-selenium): the pages load without console errors, the live page
shows a rule firing within a second of it, and the report shows every
check and the timeline; a screenshot of the report is kept in
BUILD/artefacts/drill-timeline.png."""
import os
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from stagesim import Stagesim
from support import STAGESIM, scenario_path

ARTEFACTS = os.path.join(os.environ.get("MESON_BUILD_ROOT", "."), "artefacts")


def browser(profile_dir):
    """Headless Chromium as root on a machine without a network: no sandbox,
    nothing that phones home (each would log a console error)."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1280,1800",
              "--user-data-dir=" + profile_dir):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def console_errors(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


class Pages(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.profile = tempfile.TemporaryDirectory()
        cls.driver = browser(cls.profile.name)

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.profile.cleanup()

    def setUp(self):
        self.driver.get_log("browser")   # what an earlier page logged is not this test's

    def wait(self, timeout=10):
        # The live page redraws its tables as data comes: an element found
        # may be replaced before it is read, so the wait looks again.
        return WebDriverWait(self.driver, timeout, poll_frequency=0.02,
                             ignored_exceptions=(StaleElementReferenceException,))

    def text_of(self, css, want):
        """Waits until the element at css says `want` (the page redraws
        its tables: read again until it does)."""
        self.wait().until(lambda d: want in d.find_element(By.CSS_SELECTOR, css).text)

    def test_live_view_shows_a_firing_within_a_second(self):
        with Stagesim(scenario="ws-1011-mid-run", seed=4) as sim:
            try:
                self.live_view(sim)
            finally:
                self.driver.get("about:blank")   # before stagesim stops: the page would poll on

    def live_view(self, sim):
        d = self.driver
        d.get(sim.control_url + "/ui")
        # The scenario, the services and the breakers, from /status.
        self.text_of("#title", "ws-1011-mid-run")
        self.text_of('tr[data-service="backend"]', "running")
        self.text_of('tr[data-service="backend"]', str(sim.backend_port))
        self.text_of('tr[data-breaker="backend redis"]', "closed")
        # The scenario's rule, not fired yet.
        self.text_of('tr[data-rule-id="ws-1011-after-thinking"] td.fired', "0")

        sim.control.add_fault({"id": "ui-503", "on": "http.request", "match": {"name": "/health"},
                               "action": {"kind": "status", "status": 503}})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(sim.http_url + "/health", timeout=10)
        self.assertEqual(cm.exception.code, 503)
        fired_at = time.monotonic()   # the firing is in the journal before the reply left
        self.wait(timeout=1.0).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, '#journal-live tr.firing[data-rule="ui-503"]'))
        self.assertLess(time.monotonic() - fired_at, 1.0)
        # Its counter in the rules table follows.
        self.text_of('tr[data-rule-id="ui-503"] td.fired', "1")
        # The timeline has a lane for the backend connection with a firing mark.
        self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.lanes path.fire"))
        # A service's life cycle: the services table follows /status.
        sim.control.lifecycle("auth", "crash")
        self.text_of('tr[data-service="auth"]', "down")
        sim.control.lifecycle("auth", "start")
        self.text_of('tr[data-service="auth"]', "running")
        self.assertEqual(console_errors(d), [])

    def test_drill_report_page(self):
        os.makedirs(ARTEFACTS, exist_ok=True)
        out = os.path.join(ARTEFACTS, "drill-report.html")
        r = subprocess.run([STAGESIM, "drill", "--html", out, scenario_path("ws-1011-mid-run.json"),
                            scenario_path("golden-path.json")],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(out) as f:
            page = f.read()
        self.assertNotIn("http://", page.replace("http://www.w3.org/2000/svg", ""),
                         "self-contained: no address to fetch")
        d = self.driver
        d.get("file://" + out)
        drills = self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.drill"))
        self.assertEqual(len(drills), 2)
        first = drills[0]
        self.assertIn("ws-1011-mid-run", first.find_element(By.TAG_NAME, "h2").text)
        checks = first.find_elements(By.CSS_SELECTOR, "tr[data-check]")
        self.assertEqual([c.get_attribute("data-check") for c in checks],
                         ["every-run-fails", "closed-1011-at-event-3",
                          "rule-fired-once-per-connection", "no-tool-event-sent"])
        self.assertTrue(all("pass" in c.text for c in checks))
        # One close per run in the timeline, each a firing of the scenario's rule.
        self.assertEqual(len(first.find_elements(By.CSS_SELECTOR, "svg.lanes path.fire")), 3)
        self.assertEqual(first.find_element(
            By.CSS_SELECTOR, 'tr[data-rule-id="ws-1011-after-thinking"] td.fired').text, "3")
        self.assertEqual(len(first.find_elements(
            By.CSS_SELECTOR, 'tr.firing[data-rule="ws-1011-after-thinking"]')), 3)
        self.assertEqual(console_errors(d), [])
        shot = os.path.join(ARTEFACTS, "drill-timeline.png")
        self.assertTrue(d.save_screenshot(shot))
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")

    def test_report_escapes_what_the_journal_quotes(self):
        # A rule whose description would end the data element if written raw.
        with tempfile.TemporaryDirectory() as tmp:
            src = open(scenario_path("ws-1011-mid-run.json")).read()
            evil = src.replace('"description": "Close 1011', '"description": "</script><script>'
                               'document.title=\\"pwned\\"</script> Close 1011', 1)
            self.assertNotEqual(src, evil)
            path = os.path.join(tmp, "evil.json")
            with open(path, "w") as f:
                f.write(evil)
            out = os.path.join(tmp, "evil.html")
            r = subprocess.run([STAGESIM, "drill", "--html", out, path], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.driver.get("file://" + out)
            self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, "section.drill"))
            self.assertEqual(self.driver.title, "stagesim")
            self.assertEqual(console_errors(self.driver), [])


if __name__ == "__main__":
    unittest.main()
