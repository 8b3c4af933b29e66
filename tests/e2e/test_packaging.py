"""What a user installs: the wheel and the sdist, the plain install, and the extras by need.

The wheel test builds from a copy of the project files (nothing is written into the source
tree), checks both artefacts with twine, installs the wheel into a fresh virtual environment and
runs the command line from there, in a folder where the source tree cannot be imported: a file
the package needs but the wheel lacks (package data that exists only in src/) fails it. The fresh
environment borrows this interpreter's installed dependencies through a ``.pth`` file, so
nothing (torch least of all) is downloaded or reinstalled.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{cmd} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["CONVSCOPE_QUIET"] = "1"
    return env


def test_wheel_and_sdist_build_pass_twine_and_the_wheel_runs(tmp_path):
    pytest.importorskip("build", reason="pip install -e '.[dev]'")
    pytest.importorskip("twine", reason="pip install -e '.[dev]'")
    # a copy of what the sdist is built from, so build/ and *.egg-info never land in the work tree
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, proj / name)
    shutil.copytree(ROOT / "src", proj / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
    dist = tmp_path / "dist"
    # no isolation: the installed setuptools builds, nothing is fetched; sdist first, then the wheel from it
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(proj)], env=_clean_env())
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    _run([sys.executable, "-m", "twine", "check", "--strict", str(wheels[0]), str(sdists[0])])

    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    # the dependencies come from this interpreter's site-packages (read after the fresh one's own)
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    # --ignore-installed: the borrowed site-packages hold this checkout's editable install of the same version
    _run([sys.executable, "-m", "pip", "--python", str(py), "--disable-pip-version-check", "install", "-q", "--ignore-installed",
          "--no-deps", "--no-index", str(wheels[0])])

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([str(py), "-c", "import convscope; print(convscope.__file__)"], cwd=work, env=_clean_env()).stdout
    assert Path(where.strip()).is_relative_to(env_dir), f"convscope was imported from {where} instead of the wheel"
    cli = env_dir / "bin" / "convscope"
    out = _run([str(cli), "kernels"], cwd=work, env=_clean_env()).stdout
    assert "laplacian8" in out
    _run([str(cli), "conv", "--kernel", "laplacian8", "--size", "64", "--out", str(work / "conv")],
         cwd=work, env=_clean_env())
    assert list((work / "conv").glob("*.png")) and list((work / "conv").glob("*.npy"))


def test_plain_install_needs_neither_gradio_nor_pandas():
    # the library, the command line and the tour import without the explore extra
    code = ("import sys; sys.modules['gradio'] = None; sys.modules['pandas'] = None\n"
            "import convscope, convscope.tour, convscope.experiments, convscope.explore\n"
            "from convscope.cli import build_parser; build_parser()\n")
    _run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


@pytest.mark.parametrize("absent", ["gradio", "pandas"])
def test_explore_without_its_extra_says_how_to_install_it(absent, capsys, monkeypatch):
    from convscope.cli import main

    monkeypatch.setitem(sys.modules, absent, None)  # import and find_spec both see it as not installed
    assert main(["explore", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'convscope[explore]'" in err and absent in err
