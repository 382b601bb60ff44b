"""Open the web page in a real headless browser, check that it shows boxes, save a screenshot.

    python tools/webui_screenshot.py [--out assets/demo/webui.png] [tools/webui.py options]

Serves the page of ``tools/webui.py`` (same options, same defaults: the demo's base and
adapter) on a free local port, drives Debian's chromium through selenium
(``apt install chromium chromium-driver``), waits until the page has detected its first
example, asserts that it shows boxes (one drawn picture per column, and a summary line counting
at least one box), and saves the screenshot. Without chromium or its driver it says so
and exits 0: skipped, not failed.
"""
import argparse
import os.path as osp
import re
import shutil
import socket
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.join(ROOT, 'tools'))

import webui  # noqa: E402  (tools/webui.py)

BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')


def find_browser():
    """(browser, driver) paths, or None where either is missing."""
    browser = next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = shutil.which('chromedriver')
    return (browser, driver) if browser and driver else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def shoot(url: str, out: str, browser: str, driver: str, columns, timeout: float = 120,
          size=(1400, 900)) -> str:
    """Load ``url``, wait for one drawn picture per column and a summary counting a box in
    each, save the screenshot to ``out``; returns the summary line."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                 f'--window-size={size[0]},{size[1]}'):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:  # the window holds the browser's own bars: the page's viewport is set exactly
        chrome.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', dict(
            width=size[0], height=size[1], deviceScaleFactor=1, mobile=False))
        chrome.get(url)
        deadline, summary, pictures = time.time() + timeout, '', []
        while time.time() < deadline:
            summary = ' '.join(e.text for e in chrome.find_elements(By.ID, 'summary'))
            pictures = chrome.find_elements(By.CSS_SELECTOR, '#detections img')
            if 'Boxes with score' in summary and len(pictures) >= len(columns):
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f'the page showed no detections within {timeout:.0f} s '
                                 f'(summary {summary!r}, {len(pictures)} pictures)')
        counts = dict(re.findall(r'([\w-]+) (\d+)(?:,|$)', summary.split(':', 1)[1]))
        assert sorted(counts) == sorted(columns), f'columns {columns}, page: {summary!r}'
        assert sum(map(int, counts.values())) > 0, f'the page drew no box: {summary!r}'
        time.sleep(1.0)  # let the pictures finish decoding
        chrome.save_screenshot(out)
        return summary
    finally:
        chrome.quit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], add_help=False)
    parser.add_argument('--out', default='assets/demo/webui.png')
    args, rest = parser.parse_known_args(argv)
    found = find_browser()
    if found is None:
        print('skipped: no chromium and chromedriver on PATH '
              '(apt install chromium chromium-driver)')
        return 0
    page_args = webui.parse_args(rest)
    page = webui.make_page(page_args)
    from mmdet_sdpt.constants import ZERO_SHOT
    from mmdet_sdpt.webui import launch
    columns = [ZERO_SHOT] + list(webui.adapters_of(page_args.adapter or [webui.DEMO_ADAPTER]))
    url = launch(page, port=free_port(), block=False)
    try:
        summary = shoot(url, args.out, *found, columns=columns)
    finally:
        page.close()
    print(f'{summary}\nwrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
