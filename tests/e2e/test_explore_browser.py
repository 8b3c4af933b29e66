"""The explorer end to end: a real server on a free port, driven by headless Chromium and by gradio_client.

One server per module (started in this process, files in a temporary cache
directory). The browser test walks every tab and checks the live updates the
issue names; the client test calls every public ``api_name`` once.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio")
pytestmark = pytest.mark.xdist_group("explore")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LOCAL = {"127.0.0.1", "localhost"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc, timeout: float) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise AssertionError(f"convscope explore exited with {proc.returncode}: {proc.stdout.read()}")
        try:
            urllib.request.urlopen(url + "config", timeout=2).read()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"convscope explore did not answer at {url} within {timeout} s")


@pytest.fixture(scope="session")  # one server even when xdist runs another module's tests in between
def server(tmp_path_factory):
    """``convscope explore --no-browser`` as a person starts it: a process of its own, timed from its start."""
    import subprocess
    import sys

    from convscope.explore import session as callbacks  # the cached classifier the app finds

    xdg = tmp_path_factory.mktemp("xdg-cache")
    cache = xdg / "convscope" / "explore"  # where platformdirs puts the user cache under XDG_CACHE_HOME
    # a one-epoch classifier in the cache: the app finds it there, as it finds the one it trained on first launch
    callbacks.Classifier(cache_dir=cache, epochs=1).start(background=False)
    cwd = tmp_path_factory.mktemp("explore-cwd")
    port = _free_port()
    env = {**os.environ, "XDG_CACHE_HOME": str(xdg),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "convscope", "explore", "--no-browser", "--quiet",
                             "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url, proc, 60)
        yield {"url": url, "cache": cache, "t0": t0, "start_s": time.perf_counter() - t0}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # nothing written outside the cache directory (the server's working directory stays empty)
    assert list(cwd.iterdir()) == []


def _external(urls) -> list[str]:
    bad = []
    for u in urls:
        p = urlparse(u)
        if p.scheme in ("http", "https", "ws", "wss") and p.hostname not in LOCAL:
            bad.append(u)
    return bad


def test_served_page_loads_nothing_external(server):
    """No script, stylesheet, font or image from another host; no analytics; no share link."""
    html = urllib.request.urlopen(server["url"], timeout=10).read().decode()
    res = re.findall(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*"([^"]+)"', html)
    assert res and not _external(res), _external(res)
    assert not re.findall(r"@import\s+url\(\s*['\"]?https?://", html)
    css_links = [u for u in re.findall(r'<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html)]
    css = "".join(urllib.request.urlopen(server["url"] + u.lstrip("./"), timeout=10).read().decode() for u in css_links)
    css += urllib.request.urlopen(server["url"] + "theme.css", timeout=10).read().decode()
    fetched = [u for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css) if not u.startswith("data:")]
    assert not _external(fetched), _external(fetched)
    assert "fonts.googleapis" not in css and "fonts.gstatic" not in css
    cfg = json.loads(urllib.request.urlopen(server["url"] + "config", timeout=10).read())
    assert "gradio.live" not in json.dumps(cfg.get("share_url") or "")
    assert cfg.get("analytics_enabled") in (False, None)
    assert server["start_s"] < 60  # the browser test measures the page itself


def test_every_api_name_through_gradio_client(server):
    from gradio_client import Client, handle_file

    from convscope.explore import API_NAMES

    c = Client(server["url"], verbose=False, download_files=False)
    info = c.view_api(return_format="dict", print_info=False)
    names = {k.lstrip("/") for k in info["named_endpoints"]}
    assert set(API_NAMES) <= names, set(API_NAMES) - names
    digit = server["cache"] / "digit.png"
    a = np.zeros((64, 64), np.uint8)
    a[12:52, 28:36] = 255  # a "1"
    Image.fromarray(a).save(digit)
    grid = {"headers": ["1", "2", "3"], "data": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]}
    calls = {
        "kernel_grid": ("sobel_x", 3, 1.0),
        "feature_maps": ("camera", None, grid, "max", 2),
        "pixel": ("camera", None, grid, 0, 5, 5),
        "theorem": ("camera", None, "gaussian:5", False),
        "spectrum": ("camera", None),
        "filter": ("camera", None, "highpass", 0.1, "gaussian", 0.05, 2.0),
        "diffuse": (4.0, 6.0, "circular", "drop", "camera"),
        "fractional": (3, 2, 1, 3),
        "classifier_status": (),
        "predict": (None, handle_file(str(digit))),
        "filters": (),
        "gan_step": (2, 2e-4, 2e-4, "hinge"),
        "gan_samples": (),
        "gan_walk": (1, 2, 4, "linear"),
        "gan_spectrum": (),
        "gan_reset": (),
        "signal": ("scale", None, "lowpass", 500.0, "butterworth", 0.0),
    }
    assert set(calls) == set(API_NAMES)
    out = {}
    for name in API_NAMES:
        out[name] = c.predict(*calls[name], api_name="/" + name)
    assert out["kernel_grid"]["data"][1] == [-2, 0, 2]
    assert "1,000,000 steps" in out["diffuse"][3] and "mass now | 1 |" in out["diffuse"][3]
    assert "**5**" in out["fractional"][1]
    assert "classifier" in out["classifier_status"]
    assert out["predict"][0]["label"] in [str(i) for i in range(10)]
    assert "step 2" in out["gan_step"][2]
    assert "step 0" in out["gan_reset"][2]
    assert "sum of the products" in out["pixel"][0]
    # a bad value is a message, not a dead server
    with pytest.raises(Exception, match="padding must be at most kernel size - 1"):
        c.predict(3, 2, 6, 3, api_name="/fractional")
    with pytest.raises(Exception, match="less than minimum"):  # Gradio's own bounds check, also a message
        c.predict(-1.0, 2.0, "circular", "drop", "camera", api_name="/diffuse")
    assert "**3**" in c.predict(2, 2, 1, 3, api_name="/fractional")[1]


def _raw(url: str, path: str, *, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    """One request as a hostile page would make it (``Host`` and ``Origin`` as given)."""
    import http.client

    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def test_dns_rebinding_and_cross_site_writes_are_refused(server):
    url, port = server["url"], urlparse(server["url"]).port
    assert _raw(url, "/config", headers={"Host": f"127.0.0.1:{port}"})[0] == 200
    status, text = _raw(url, "/config", headers={"Host": f"evil.example:{port}"})
    assert status == 403 and b"host not allowed" in text
    assert _raw(url, "/gradio_api/info", headers={"Host": "evil.example"})[0] == 403
    uploads = server["cache"] / "gradio"
    before = _files(uploads)
    boundary = "cs-boundary"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + b"\x89PNG" * 256 + b"\r\n"
    ctype = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    body = part + f"--{boundary}--\r\n".encode()
    # a cross-site form post: CORS would hide the answer, but the file would be stored
    status, _ = _raw(url, "/gradio_api/upload", method="POST", body=body,
                     headers={**ctype, "Host": f"127.0.0.1:{port}", "Origin": "https://evil.example"})
    assert status == 403
    status, _ = _raw(url, "/gradio_api/upload", method="POST", body=part * 9 + f"--{boundary}--\r\n".encode(),
                     headers={**ctype, "Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"})
    assert status == 413
    assert _files(uploads) == before  # neither refused upload left a file behind
    status, _ = _raw(url, "/gradio_api/upload", method="POST", body=body,
                     headers={**ctype, "Host": f"127.0.0.1:{port}", "Origin": f"http://127.0.0.1:{port}"})
    assert status == 200  # the page's own upload still works


def test_the_kernel_box_reads_no_server_file(server):
    from gradio_client import Client

    c = Client(server["url"], verbose=False, download_files=False)
    with pytest.raises(Exception, match="files are not read here") as e:
        c.predict("camera", None, "/etc/passwd", True, api_name="/theorem")
    assert "root:" not in str(e.value)


def test_an_oversized_drawing_is_refused_before_it_is_decoded(server):
    from gradio_client import Client, handle_file

    big = server["cache"] / "big-drawing.png"
    Image.new("RGBA", (8000, 8000), (0, 0, 0, 0)).save(big)  # small on disk, 64 Mpx decoded
    c = Client(server["url"], verbose=False, download_files=False)
    drawing = {"background": handle_file(str(big)), "layers": [], "composite": handle_file(str(big))}
    with pytest.raises(Exception, match="drawing must be at most"):
        c.predict(drawing, None, api_name="/predict")


def test_one_visitor_cannot_reset_anothers_gan(server):
    from gradio_client import Client

    a = Client(server["url"], verbose=False, download_files=False)
    b = Client(server["url"], verbose=False, download_files=False)
    assert "step 0" in b.predict(api_name="/gan_reset")[2]
    assert "step 3" in a.predict(3, 2e-4, 2e-4, "bce", api_name="/gan_step")[2]
    assert "step 0" in b.predict(api_name="/gan_samples")[2]
    b.predict(api_name="/gan_reset")
    assert "step 3" in a.predict(api_name="/gan_samples")[2]


# ------------------------------------------------------------------ the browser


def _chromium() -> tuple[str, str] | None:
    chrome = next((p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
    driver = shutil.which("chromedriver")
    return (chrome, driver) if chrome and driver else None


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    found = _chromium()
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium/chromedriver missing in CI: `make test` should have installed them")
        pytest.skip("chromium not installed (make test installs it as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    prof = tmp_path_factory.mktemp("chrome-profile")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
              "--no-first-run", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--window-size=1920,1000", f"--user-data-dir={prof}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(found[1]), options=opts)
    drv.set_script_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def _wait(drv, js: str, timeout: float = 20.0, what: str = ""):
    end = time.time() + timeout
    while time.time() < end:
        v = drv.execute_script(js)
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or js}")


def _src(drv, sel: str) -> str:
    return drv.execute_script(f"const i = document.querySelector('{sel} img'); return i ? i.src : ''")


def _text(drv, sel: str) -> str:
    return drv.execute_script(f"const e = document.querySelector('{sel}'); return e ? e.innerText : ''")


def _tab(drv, label: str) -> None:
    from selenium.webdriver.common.by import By

    for b in drv.find_elements(By.CSS_SELECTOR, "button[role=tab]"):
        if b.text.strip().startswith(label):
            b.click()
            return
    raise AssertionError(f"no tab {label!r}")


def _set_number(drv, sel: str, value) -> None:
    """Type into a Gradio number box (a slider's or a Number's) and commit it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = drv.find_element(By.CSS_SELECTOR, f"{sel} input[type=number]")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.ENTER)
    drv.execute_script("arguments[0].blur()", box)


def _shot(drv, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    drv.save_screenshot(str(ARTIFACTS / f"explore_{name}.png"))


@pytest.mark.browser
def test_explorer_in_headless_chromium(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    drv = browser
    t0 = time.perf_counter()
    drv.get(server["url"])
    _wait(drv, "return !!document.querySelector('#feature-maps img')", 30, "the first feature map")
    ready_s = time.perf_counter() - t0
    # process start to a served page, plus that page's first tab filled in; the target is 10 s on
    # 2 idle cores (benchmarks/explore_bench.py --startup measures it alone); a loaded test machine gets slack
    page_s = server["start_s"] + ready_s
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "explore_startup.json").write_text(json.dumps(
        {"server_s": server["start_s"], "first_tab_s": ready_s, "page_ready_s": page_s}) + "\n")
    assert page_s < 30, (server["start_s"], ready_s)
    tabs = [b.text for b in drv.find_elements(By.CSS_SELECTOR, "button[role=tab]")]
    assert len(tabs) == 8 and tabs[0].startswith("1.") and tabs[7].startswith("8."), tabs
    _shot(drv, "kernels")
    assert _src(drv, "#input-image")  # the photograph is shown beside its feature maps
    header = drv.execute_script("return [...document.querySelectorAll('#kernel-grid thead th *')]"
                                ".every(e => getComputedStyle(e).visibility === 'hidden')")
    assert header, "the grid's column numbers are shown (they read as a row of weights)"

    # 1. edit one kernel number: the feature map changes
    before = _src(drv, "#feature-maps")
    cell = drv.find_element(By.CSS_SELECTOR, '#kernel-grid [data-testid="cell-1-1"]')  # the centre of the 3×3 grid
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
    ActionChains(drv).double_click(cell).perform()
    # clear the cell by keys rather than Ctrl+A, which a loaded browser sometimes does not apply before typing
    # (the 8 then became 84); END + BACKSPACE leaves nothing to select
    ActionChains(drv).send_keys(Keys.END, *([Keys.BACKSPACE] * 6), "4", Keys.ENTER).perform()
    _wait(drv, f"const i = document.querySelector('#feature-maps img'); return i && i.src !== {json.dumps(before)}",
          20, "the feature map to change after a grid edit")
    _wait(drv, "const e = document.querySelector('#kernel-meaning'); return e && e.innerText.includes('sum = -4')",
          20, "the kernel's meaning to read sum = -4")
    assert "sum = -4" in _text(drv, "#kernel-meaning")

    # 2-5: each tab renders
    _tab(drv, "2.")
    _wait(drv, "return document.querySelector('#theorem-report') && "
               "document.querySelector('#theorem-report').innerText.includes('FFT')", 20, "the theorem report")
    _shot(drv, "theorem")
    _tab(drv, "4.")
    time.sleep(1.0)
    _shot(drv, "fourier")

    _tab(drv, "5.")
    _wait(drv, "return document.querySelector('#diffusion-report') && "
               "document.querySelector('#diffusion-report').innerText.includes('100 steps')", 20, "diffusion at 100")
    frame = _src(drv, "#diffusion-frame")
    _set_number(drv, "#steps-slider", 6)
    _wait(drv, "return document.querySelector('#diffusion-report').innerText.includes('1,000,000 steps')", 20,
          "the 10^6-step readout")
    rep = _text(drv, "#diffusion-report")
    assert re.search(r"mass now\s+509", rep), rep  # a disc of 509 pixels of salt, conserved
    _wait(drv, f"const i = document.querySelector('#diffusion-frame img'); return i && i.src !== {json.dumps(frame)}",
          10, "a new diffusion frame")
    _shot(drv, "diffusion")
    # uniform after 10⁶ steps, but drawn on the fixed scale: not one value of the lowest colour
    url = _src(drv, "#diffusion-frame")
    field = np.asarray(Image.open(io.BytesIO(urllib.request.urlopen(url, timeout=10).read())).convert("RGB"))[:256]
    assert field.reshape(-1, 3).std(0).max() < 1 and field[0, 0].tolist() != [0, 0, 4], field[0, 0]

    _tab(drv, "6.")
    _wait(drv, "return document.querySelector('#fractional-report') && "
               "document.querySelector('#fractional-report').innerText.includes('equal')", 20, "the torch check")
    _shot(drv, "fractional")

    # 6. draw a digit on the sketchpad, then upload one: a prediction appears each time
    _tab(drv, "7.")
    _wait(drv, "return document.querySelector('#classifier-status').innerText.includes('✔')", 30, "the classifier")
    brush = _wait(drv, "return [...document.querySelectorAll('#sketchpad button')].find("
                       "b => (b.getAttribute('aria-label') || '').toLowerCase() === 'brush') || null", 20,
                  "the sketchpad's brush")
    brush.click()
    canvas = _wait(drv, "return document.querySelector('#sketchpad canvas')", 20, "the sketchpad's canvas")
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    stroke = ActionChains(drv).move_to_element_with_offset(canvas, 0, -70).click_and_hold()
    for _ in range(14):  # a vertical stroke: a "1"
        stroke.move_by_offset(0, 10)
    stroke.release().perform()
    drv.find_element(By.CSS_SELECTOR, "#recognise").click()
    _wait(drv, "const e = document.querySelector('#prediction'); return e && /[0-9]/.test(e.innerText) "
               "&& e.innerText.includes('%')", 30, "a prediction of the drawing")
    drawn = _text(drv, "#prediction")
    a = np.full((64, 64), 255, np.uint8)
    a[10:54, 29:35] = 0  # a dark "1" on white paper
    digit = tmp_path / "one.png"
    Image.fromarray(a).save(digit)
    drv.find_element(By.CSS_SELECTOR, "#digit-upload input[type=file]").send_keys(str(digit))
    _wait(drv, f"const e = document.querySelector('#prediction'); return e && e.innerText.includes('%') "
               f"&& e.innerText !== {json.dumps(drawn)}", 30, "a prediction of the upload")
    _shot(drv, "recognition")

    # 7. one GAN step: the counter and the grid change
    _tab(drv, "8.")
    _wait(drv, "return document.querySelector('#gan-report') && "
               "document.querySelector('#gan-report').innerText.includes('step 0')", 30, "the untrained GAN")
    grid_before = _wait(drv, "const i = document.querySelector('#gan-grid img'); return i ? i.src : ''", 20, "the grid")
    drv.find_element(By.CSS_SELECTOR, "#gan-step").click()
    _wait(drv, "return document.querySelector('#gan-report').innerText.includes('step 1')", 30, "step 1")
    _wait(drv, f"const i = document.querySelector('#gan-grid img'); return i && i.src !== {json.dumps(grid_before)}",
          10, "a new sample grid")
    _shot(drv, "gan")

    severe = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, severe
    urls = []
    for e in drv.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            urls.append(m["params"].get("request", {}).get("url") or m["params"].get("url", ""))
    assert any(urlparse(u).hostname == "127.0.0.1" for u in urls)
    assert not _external(urls), _external(urls)
