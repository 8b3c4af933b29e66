"""A self-contained static HTML report: an illustrated article, one section per step.

No external assets: styles are inline, images are local files next to
``index.html``. Figures and tables are numbered; every figure has a caption
that says what to notice.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

from .._checks import ArgumentError
from .._io import atomic_write_text, make_folder

__all__ = ["Report"]

_CSS = """
:root { --fg:#1d2330; --muted:#5b6475; --accent:#2f6fde; --bg:#fbfbfd; --rule:#e3e6ee; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 16px/1.6 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 2rem 1.25rem 4rem; }
header h1 { font-size: 2.1rem; margin: .2rem 0; }
header p.lede { color: var(--muted); font-size: 1.1rem; margin-top: 0; }
nav.toc { background:#fff; border:1px solid var(--rule); border-radius:8px; padding:.75rem 1.25rem; margin:1.5rem 0; }
nav.toc ol { margin:.25rem 0; padding-left:.25rem; list-style:none; }
section { border-top:1px solid var(--rule); padding-top:1.25rem; margin-top:2rem; }
section h2 { font-size:1.5rem; margin:.25rem 0 .5rem; }
figure { margin:1.25rem 0; background:#fff; border:1px solid var(--rule); border-radius:8px; padding:.75rem; }
figure img { max-width:100%; height:auto; display:block; margin:0 auto; }
figcaption { color:var(--muted); font-size:.92rem; margin-top:.5rem; }
figcaption b { color:var(--fg); }
table { border-collapse:collapse; margin:1rem 0; font-size:.92rem; background:#fff; }
caption { caption-side:top; text-align:left; color:var(--muted); padding-bottom:.35rem; }
th, td { border:1px solid var(--rule); padding:.35rem .65rem; text-align:right; }
th { background:#f2f4f9; } td:first-child, th:first-child { text-align:left; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:.9em; }
pre { background:#f2f4f9; padding:.6rem .8rem; border-radius:6px; overflow-x:auto; }
.note { color: var(--muted); font-size:.9rem; }
footer { color:var(--muted); font-size:.85rem; margin-top:3rem; }
"""


@dataclass
class _Section:
    key: str
    title: str
    blocks: list[str] = field(default_factory=list)


class Report:
    """Collects sections, figures and tables; ``write()`` produces ``index.html``.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> r = Report(d, "A title", "A lede.")
        >>> r.section("one", "First")
        >>> r.paragraph("Hello <world>.")
        >>> r.table(["a", "b"], [[1, 2]], "Numbers.")  # returns the table number
        1
        >>> Path(r.write()).name
        'index.html'
    """

    def __init__(self, directory: str | os.PathLike, title: str, lede: str = ""):
        self.dir = Path(directory)
        make_folder(self.dir)
        self.title, self.lede = title, lede
        self.sections: list[_Section] = []
        self.n_fig = 0
        self.n_tab = 0
        self.footer = ""

    def section(self, key: str, title: str) -> None:
        self.sections.append(_Section(key, title))

    def _add(self, block: str) -> None:
        if not self.sections:
            self.section("intro", "Introduction")
        self.sections[-1].blocks.append(block)

    def paragraph(self, text: str, *, raw: bool = False) -> None:
        self._add(f"<p>{text if raw else html.escape(text)}</p>")

    def code(self, text: str) -> None:
        self._add(f"<pre><code>{html.escape(text)}</code></pre>")

    def figure(
        self, path: str | os.PathLike, caption: str, *, alt: str | None = None, width: int | None = None,
        pixelated: bool = False,
    ) -> int:
        """Add an image (must live under the report folder); returns its figure number."""
        p = Path(path)
        rel = os.path.relpath(p.resolve(), self.dir.resolve())
        if rel.startswith(".."):
            raise ArgumentError(f"figure path must be inside the report folder {self.dir}, got {p}")
        self.n_fig += 1
        css = []
        if width:  # display width (scales small images up, large ones down)
            css.append(f"width:{width}px;max-width:100%")
        if pixelated:  # keep small generated images crisp when scaled up
            css.append("image-rendering:pixelated")
        style = f' style="{";".join(css)}"' if css else ""
        self._add(
            f'<figure id="fig{self.n_fig}"><img src="{html.escape(Path(rel).as_posix())}" '
            f'alt="{html.escape(alt or caption)}"{style}>'
            f"<figcaption><b>Figure {self.n_fig}.</b> {html.escape(caption)}</figcaption></figure>"
        )
        return self.n_fig

    def audio(self, path: str | os.PathLike, caption: str) -> int:
        """Add a sound (a WAV under the report folder) that plays in the page; returns its figure number."""
        p = Path(path)
        rel = os.path.relpath(p.resolve(), self.dir.resolve())
        if rel.startswith(".."):
            raise ArgumentError(f"audio path must be inside the report folder {self.dir}, got {p}")
        self.n_fig += 1
        self._add(
            f'<figure id="fig{self.n_fig}"><audio controls preload="metadata" '
            f'src="{html.escape(Path(rel).as_posix())}"></audio>'
            f"<figcaption><b>Figure {self.n_fig}.</b> {html.escape(caption)}</figcaption></figure>"
        )
        return self.n_fig

    def table(self, header: list[str], rows: list[list[object]], caption: str) -> int:
        self.n_tab += 1
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        self._add(
            f'<table id="tab{self.n_tab}"><caption><b>Table {self.n_tab}.</b> {html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
        return self.n_tab

    def render(self) -> str:
        toc = "".join(f'<li><a href="#{s.key}">{html.escape(s.title)}</a></li>' for s in self.sections)
        secs = "".join(
            f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>{"".join(s.blocks)}</section>' for s in self.sections
        )
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body><main>"
            f"<header><h1>{html.escape(self.title)}</h1><p class=\"lede\">{html.escape(self.lede)}</p></header>"
            f"<nav class=\"toc\"><b>Contents</b><ol>{toc}</ol></nav>{secs}"
            f"<footer>{html.escape(self.footer)}</footer></main></body></html>\n"
        )

    def write(self, name: str = "index.html") -> Path:
        return atomic_write_text(self.dir / name, self.render())
