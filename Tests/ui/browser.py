#!/usr/bin/env python3
"""Drives the server's web UI in a real headless Chromium (Debian's chromium and chromium-driver,
through selenium, pointed at /usr/bin/chromedriver so nothing is downloaded). The Swift test suite
UITests starts the server and the runs, calls one check here per test, and asserts on the JSON
this prints. Every check also fails on a console error or a failed request in the page.

    browser.py CHECK BASE_URL [ARGUMENTS...] --shots DIR
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def start(width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def console_problems(driver):
    """Console errors and failed requests the page has logged since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def wait_for(driver, condition, seconds=20):
    """Until the condition holds; the page redraws as data comes, so a node it read may be gone."""
    return WebDriverWait(driver, seconds, poll_frequency=0.05,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(lambda d: condition(d))


def state_shown(driver):
    """The run's state badge, read in the page in one step (it is redrawn as the run changes)."""
    return driver.execute_script("const b = document.querySelector('h1 .state'); return b ? b.textContent : null")


def loaded(driver):
    """The page has drawn past its loading line."""
    main = driver.find_element(By.ID, "page")
    return "Loading…" not in main.text and main.text.strip() != ""


def text_of(driver):
    return driver.find_element(By.TAG_NAME, "body").text


def shoot(driver, shots, name):
    if shots:
        driver.save_screenshot(f"{shots}/{name}.png")


def check_pages(driver, base, shots, flow_run):
    """Every page loads and draws, with no console error and no failed request."""
    result = {}
    for name, path, marker in [("dashboard", "/", "Flow runs by state"), ("flow-runs", "/flow-runs", "Task runs"),
                               ("flow-run", f"/flow-runs/{flow_run}", "Task runs by state"),
                               ("artifacts", "/artifacts", "Artifacts"), ("workers", "/workers", "Workers"),
                               ("deployments-empty", "/deployments", "Deployments"),
                               ("flow-runs-narrow", "/flow-runs", "Task runs")]:
        if name.endswith("narrow"):
            driver.set_window_size(390, 844)
        driver.get(base + path)
        wait_for(driver, lambda d: loaded(d) and marker in text_of(d))
        time.sleep(0.5)
        shoot(driver, shots, name)
        result[name] = {"problems": console_problems(driver), "text": text_of(driver)[:4000],
                        "dependencies": len(driver.find_elements(By.CSS_SELECTOR, "#timeline line.dependency"))}
    return result


def check_filter(driver, base, shots, state):
    """Filtering the list by a state shows only runs in it, and the URL keeps the filter."""
    driver.get(base + "/flow-runs")
    wait_for(driver, loaded)
    driver.find_element(By.CSS_SELECTOR, f"input[name=state][value={state}]").click()
    driver.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait_for(driver, lambda d: f"state={state}" in d.current_url and d.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state], #flow-run-list p"))
    time.sleep(0.3)
    rows = [row.get_attribute("data-state") for row in driver.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state]")]
    url = driver.current_url
    driver.refresh()
    wait_for(driver, lambda d: loaded(d) and d.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state], #flow-run-list p"))
    after = [row.get_attribute("data-state") for row in driver.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state]")]
    checked = driver.find_element(By.CSS_SELECTOR, f"input[name=state][value={state}]").is_selected()
    shoot(driver, shots, "flow-runs-filtered")
    return {"url": url, "rows": rows, "rowsAfterReload": after, "checkedAfterReload": checked,
            "problems": console_problems(driver)}


def check_hostile(driver, base, shots, flow_run):
    """A run whose texts carry script: the page shows them as text and runs nothing."""
    driver.get(base + f"/flow-runs/{flow_run}")
    wait_for(driver, lambda d: loaded(d) and d.find_elements(By.CSS_SELECTOR, "tr.task-run"))
    driver.find_element(By.CSS_SELECTOR, "tr.task-run a").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.detail table"))
    wait_for(driver, lambda d: "echo:" in d.find_element(By.ID, "logs").text)
    time.sleep(0.5)
    shoot(driver, shots, "flow-run-hostile")
    anchors = [a.get_attribute("href") or "" for a in driver.find_elements(By.CSS_SELECTOR, "a")]
    return {
        "ran": driver.execute_script("return window.__tributaryXSS === true"),
        "images": len(driver.find_elements(By.CSS_SELECTOR, "#page img")),
        "scripts": len(driver.find_elements(By.CSS_SELECTOR, "#page script")),
        "javascriptLinks": [a for a in anchors if a.lower().startswith("javascript:")],
        "httpsLinks": [a for a in anchors if a.startswith("https://example.org")],
        "text": text_of(driver),
        "problems": console_problems(driver),
    }


def check_key(driver, base, shots, key):
    """With --api-key: nothing but the key form without it; the dashboard with it."""
    driver.get(base + "/flow-runs")
    wait_for(driver, lambda d: d.find_elements(By.ID, "api-key-form"))
    before = text_of(driver)
    rows_before = len(driver.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state]"))
    shoot(driver, shots, "api-key")
    field = driver.find_element(By.CSS_SELECTOR, "#api-key-form input")
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#api-key-form button").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state]"))
    rows_after = len(driver.find_elements(By.CSS_SELECTOR, "#flow-run-list tr[data-state]"))
    # Console lines for the 401s the key form answered are expected; the rest are not.
    problems = [p for p in console_problems(driver) if "401" not in p]
    return {"before": before, "rowsBefore": rows_before, "rowsAfter": rows_after, "problems": problems}


def check_live(driver, base, shots, flow_run, seconds):
    """A running flow's page: the counts move without a reload, to the run's end."""
    driver.get(base + f"/flow-runs/{flow_run}")
    wait_for(driver, lambda d: loaded(d) and d.find_elements(By.ID, "total"))
    driver.execute_script("window.__sameDocument = true")
    totals, finals = [], []
    deadline = time.time() + seconds
    while time.time() < deadline:
        counts = driver.execute_script(
            "return Object.fromEntries([...document.querySelectorAll('#counts [data-state]')]"
            ".map(e => [e.dataset.state, Number(e.querySelector('strong').textContent)]))")
        totals.append(counts)
        state = state_shown(driver)
        if state in ("Completed", "Failed", "Cancelled", "Crashed", "TimedOut"):
            finals.append(state)
            if len(finals) > 3:
                break
        time.sleep(0.25)
    shoot(driver, shots, "flow-run-live")
    return {"samples": totals, "state": state_shown(driver),
            "sameDocument": driver.execute_script("return window.__sameDocument === true"),
            "problems": console_problems(driver)}


def check_cancel(driver, base, shots, flow_run):
    """The Cancel button asks first, then cancels the running run."""
    driver.get(base + f"/flow-runs/{flow_run}")
    wait_for(driver, lambda d: loaded(d) and d.find_elements(By.ID, "cancel"))
    # The header is redrawn as the run changes: click the button there is now.
    for _ in range(20):
        try:
            driver.find_element(By.ID, "cancel").click()
            break
        except StaleElementReferenceException:
            time.sleep(0.05)
    alert = WebDriverWait(driver, 5).until(lambda d: d.switch_to.alert)
    question = alert.text
    alert.accept()
    wait_for(driver, lambda d: state_shown(d) == "Cancelled", seconds=30)
    shoot(driver, shots, "flow-run-cancelled")
    return {"question": question, "state": state_shown(driver),
            "problems": console_problems(driver)}


def check_big(driver, base, shots, flow_run):
    """A very large flow run's page: how long until its first content, timeline and first table page,
    and the renderer's memory."""
    driver.get("about:blank")
    started = time.time()
    driver.get(base + f"/flow-runs/{flow_run}")
    wait_for(driver, lambda d: d.find_elements(By.ID, "total"), seconds=60)
    first = time.time() - started
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline") and d.find_elements(By.CSS_SELECTOR, "tr.task-run"), seconds=60)
    usable = time.time() - started
    shoot(driver, shots, "flow-run-big")
    time.sleep(1)
    heap = driver.execute_script("return performance.memory ? performance.memory.usedJSHeapSize : null")
    driver.execute_cdp_cmd("Performance.enable", {})
    metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
    return {"firstContentSeconds": first, "usableSeconds": usable, "jsHeapBytes": heap,
            "nodes": metrics.get("Nodes"), "rendererBytes": renderer_memory(), "problems": console_problems(driver)}


def renderer_memory():
    """Memory of the page's renderer: the largest proportional set size (PSS: shared pages divided
    among the processes that map them) of the browser's renderer processes, from /proc."""
    import os
    largest = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"--type=renderer" not in f.read():
                    continue
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        largest = max(largest, int(line.split()[1]) * 1024)
        except OSError:
            continue
    return largest


def check_deployments(driver, base, shots, name):
    """The deployments list shows the deployment; its page runs it now with parameters typed in,
    shows that run in its latest runs once it completes, and pauses it."""
    driver.get(base + "/deployments")
    wait_for(driver, lambda d: loaded(d) and d.find_elements(By.CSS_SELECTOR, f'tr[data-deployment="{name}"]'))
    listed = driver.find_element(By.CSS_SELECTOR, f'tr[data-deployment="{name}"]').text
    shoot(driver, shots, "deployments")
    driver.find_element(By.LINK_TEXT, name).click()
    wait_for(driver, lambda d: "Latest runs" in text_of(d))
    field = driver.find_element(By.CSS_SELECTOR, 'input[name="parameters"]')
    field.send_keys('{"label": "from the browser"}')
    driver.find_element(By.CSS_SELECTOR, "button.run-now").click()
    latest = lambda d: d.execute_script(
        "const h = [...document.querySelectorAll('h2')].find(x => x.textContent === 'Latest runs');"
        "return h ? h.parentElement.textContent : ''")
    wait_for(driver, lambda d: "manual" in latest(d) and "Completed" in latest(d), seconds=40)
    shoot(driver, shots, "deployment")
    detail = text_of(driver)
    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, "button.pause").click()
            break
        except StaleElementReferenceException:
            time.sleep(0.05)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button.resume"))
    return {"listed": listed, "detail": detail[:4000], "paused": "paused" in text_of(driver),
            "problems": console_problems(driver)}


def check_workers(driver, base, shots, flow_run):
    """The Workers page links each process to the flow runs it works for."""
    driver.get(base + "/workers")
    selector = f'td.working a[href="/flow-runs/{flow_run}"]'
    wait_for(driver, lambda d: loaded(d) and len(d.find_elements(By.CSS_SELECTOR, selector)) >= 3)
    shoot(driver, shots, "workers-working")
    return {"links": len(driver.find_elements(By.CSS_SELECTOR, selector)), "problems": console_problems(driver)}


CHECKS = {"workers": check_workers, "pages": check_pages, "filter": check_filter, "hostile": check_hostile, "key": check_key,
          "live": check_live, "cancel": check_cancel, "big": check_big, "deployments": check_deployments}


def main():
    arguments = sys.argv[1:]
    shots = None
    if "--shots" in arguments:
        index = arguments.index("--shots")
        shots = arguments[index + 1]
        del arguments[index:index + 2]
    check, base, rest = arguments[0], arguments[1], arguments[2:]
    if check == "live":
        rest[1] = float(rest[1])
    driver = start()
    try:
        print(json.dumps(CHECKS[check](driver, base, shots, *rest)))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
