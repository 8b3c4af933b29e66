"""The manual and the API reference: built strictly, and complete.

The pages' examples run as doctests (``--doctest-glob='*.md'`` over ``docs/`` and the README);
here the site is built with ``mkdocs build --strict``, so a broken reference, a missing anchor
or a docstring Griffe cannot read fails the run, and every public name has an API entry.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "docs" / "api"
# every package with a public __all__ of its own
PACKAGES = ["conv", "data", "diffusion", "experiments", "explore", "fourier", "metrics", "models", "train", "viz", "cli"]
ENTRY = re.compile(r"^::: ([\w.]+)\s*$", re.M)


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _entries() -> dict[str, object]:
    return {d: _resolve(d) for page in API.glob("*.md") for d in ENTRY.findall(page.read_text())}


def test_every_public_name_has_an_api_entry():
    entries = _entries()
    documented = set(entries)
    same_object = {id(o) for o in entries.values()}
    missing = []
    for pkg in ["", *PACKAGES]:
        mod = importlib.import_module("convscope" + (f".{pkg}" if pkg else ""))
        for name in mod.__all__:
            path = f"{mod.__name__}.{name}"
            obj = getattr(mod, name)
            # a re-export (convscope.conv2d is convscope.conv.conv2d) may point at its one entry, and so
            # must a function named like its module (convscope.fourier.spectrum.spectrum), which
            # Griffe would otherwise read as the module
            if path not in documented and not (id(obj) in same_object and not isinstance(obj, str)):
                missing.append(path)
    assert not missing, f"add a '::: NAME' entry to docs/api/*.md for: {missing}"


def test_every_package_has_a_page_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    for pkg in PACKAGES:
        assert (API / f"{pkg}.md").is_file() and f"api/{pkg}.md" in nav, pkg
    for page in ("views", "cli", "explorer", "training", "engine", "reliability", "development", "results"):
        assert f"{page}.md" in nav, page


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    heads = re.findall(r"^## (.+)$", text, re.M)
    assert heads[:4] == ["Install", "Two commands", "Commands", "The library"], heads
    for page in ("docs/views.md", "docs/cli.md", "docs/explorer.md", "docs/training.md", "docs/engine.md",
                 "docs/reliability.md", "benchmarks/RESULTS.md"):
        assert f"]({page}" in text, page
    assert "pip install" in text and "make demo" in text and "make test" in text


def test_docs_build_strictly_offline(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.fail("mkdocs is not installed: pip install -e '.[dev]' (it pulls in the docs extra)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([mkdocs, "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    site = tmp_path / "site"
    page = (site / "api" / "conv.html").read_text()
    assert 'id="convscope.conv.convolve2d"' in page
    assert (site / "img" / "tour_report.png").is_file() and (site / "results.html").is_file()
    # nothing the reader's browser would fetch from elsewhere: no web fonts, no remote scripts
    for html in site.rglob("*.html"):
        text = html.read_text()
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text, html
        assert not re.search(r"<script[^>]+src=\"https?://", text), html
