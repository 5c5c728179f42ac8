"""Checks the web demo in a real headless browser and saves a screenshot after one request.

    apt-get install -y chromium chromium-driver          # Debian's Chromium and its driver
    pip install -r requirements/demo.txt -r requirements/browser.txt
    python tools/web_demo_screenshot.py --out docs/web_demo.png

Starts ``tools/web_demo.py`` on a free local port (embedded CLIP, offline), opens the page in
headless Chromium (no sandbox, no GPU, no background networking, a fresh profile), presses
**Segment** on the bundled sample, waits for the answer, checks that the page shows the overlay
and the legend, and writes a PNG of the page. Not part of the test suite (it needs Chromium).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                  '--disable-component-update', '--disable-sync', '--no-first-run')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='docs/web_demo.png', help='screenshot PNG')
    parser.add_argument('--chromium', default='/usr/bin/chromium')
    parser.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    parser.add_argument('--size', default='1400,1000', help='window width,height')
    parser.add_argument('--timeout', type=float, default=180.0, help='seconds per wait')
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def start_server(port: int, log: Path, timeout: float) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE='1', GRADIO_ANALYTICS_ENABLED='False')
    with open(log, 'w') as out:
        process = subprocess.Popen([sys.executable, str(REPO / 'tools' / 'web_demo.py'),
                                    '--port', str(port)], cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while 'Running on local URL' not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f'web demo did not start:\n{log.read_text()[-3000:]}')
        time.sleep(0.5)
    return process


def main() -> None:
    args = parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    for path in (args.chromium, args.chromedriver):
        if not Path(path).is_file():
            raise FileNotFoundError(f'{path} not found: apt-get install -y chromium '
                                    'chromium-driver')
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, Path(tmp) / 'server.log', args.timeout)
        options = webdriver.ChromeOptions()
        options.binary_location = args.chromium
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f'--user-data-dir={Path(tmp) / "profile"}')
        options.add_argument(f'--window-size={args.size}')
        driver = webdriver.Chrome(service=Service(args.chromedriver), options=options)
        try:
            wait = WebDriverWait(driver, args.timeout)
            driver.get(f'http://127.0.0.1:{port}/')
            button = wait.until(ec.element_to_be_clickable(
                (By.XPATH, "//button[normalize-space()='Segment']")))
            button.click()
            wait.until(ec.text_to_be_present_in_element((By.ID, 'message'), 'classes,'))
            message = driver.find_element(By.ID, 'message').text
            images = [img for img in driver.find_elements(By.TAG_NAME, 'img')
                      if '/gradio_api/file=' in (img.get_attribute('src') or '')]
            legend = driver.find_elements(By.XPATH, "//*[normalize-space()='pixels (%)']")
            if len(images) < 2 or not legend:
                raise RuntimeError(f'page after the request lacks the overlay or the legend '
                                   f'({len(images)} images, legend: {bool(legend)})')
            time.sleep(1.0)  # let the overlay image finish painting
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out))
            print(f'answer: {message}')
            print(f'screenshot written to {out}')
        finally:
            driver.quit()
            server.terminate()
            server.wait(timeout=30)


if __name__ == '__main__':
    from dense_clip.utils.cli import run_cli

    sys.path.insert(0, str(REPO))
    run_cli(main)
