"""The tour: one quick run, checked as files and in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from PIL import Image

from convscope.tour import STEPS, run_tour

pytestmark = pytest.mark.xdist_group("tour")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def tour_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tour")
    run_tour(out, quick=True, quiet=True)
    return out


def test_tour_writes_report_with_every_section(tour_dir):
    html = (tour_dir / "index.html").read_text()
    for key, _title, _fn in STEPS:
        assert f'id="{key}"' in html, key
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) >= len(STEPS)
    for s in srcs:
        p = tour_dir / s
        assert p.is_file(), s
        with Image.open(p) as im:
            assert im.size[0] > 0 and im.size[1] > 0
    # the song plays in the page, and its equaliser is an animation
    sounds = re.findall(r'<audio controls[^>]*src="([^"]+)"', html)
    assert len(sounds) == 2 and all((tour_dir / s).stat().st_size > 10_000 for s in sounds)
    with Image.open(tour_dir / "3_signals" / "song" / "equaliser.gif") as im:
        assert im.n_frames > 10
    # no external assets: nothing is fetched from the network
    assert not re.search(r'(src|href)="(https?:)?//', html)
    # figures are numbered and captioned
    assert "Figure 1." in html and "Table 1." in html
    # the quick preset keeps an EMA of G, and the captions say that it drew the GAN's pictures
    assert "Samples of EMA of G (decay 0.999)" in html and "latent space of EMA of G" in html


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.mark.browser
def test_tour_in_headless_chromium(tour_dir):
    chrome, driver_path = _chromium(), shutil.which("chromedriver")
    if not chrome or not driver_path:
        if os.environ.get("CI"):
            pytest.fail("chromium/chromedriver missing in CI: `make test` should have installed them")
        pytest.skip("chromium not installed (make test installs it as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--window-size=1200,900", f"--user-data-dir={tour_dir / '.chrome-profile'}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        drv.get((tour_dir / "index.html").as_uri())
        drv.execute_script("return document.readyState")
        images = drv.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"
        )
        assert images, "no images on the page"
        broken = [src for src, complete, width in images if not complete or width <= 0]
        assert not broken, f"images that did not load: {broken}"
        for _ in range(100):  # every <audio> has read its file's header: it loads and knows its length
            audio = drv.execute_script("return Array.from(document.querySelectorAll('audio'))"
                                       ".map(a => [a.getAttribute('src'), a.readyState, a.duration])")
            if audio and all(state >= 1 for _, state, _ in audio):
                break
            time.sleep(0.1)
        assert len(audio) == 2 and all(state >= 1 and duration > 1 for _, state, duration in audio), audio
        headings = drv.execute_script("return Array.from(document.querySelectorAll('section h2')).map(h => h.textContent)")
        for _key, title, _fn in STEPS:
            assert any(title.lower() in h.lower() for h in headings), (title, headings)
        errors = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, f"console errors: {errors}"
        height = drv.execute_script("return document.documentElement.scrollHeight")
        drv.set_window_size(1200, min(int(height) + 50, 16000))
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "tour_screenshot.png"
        assert drv.save_screenshot(str(shot))
        with Image.open(shot) as im:
            assert im.size[1] > 900
    finally:
        drv.quit()
