"""The live explorer (``convscope explore``): the whole story in the browser, with Gradio.

* :mod:`.callbacks`: one plain function per endpoint (no Gradio), each a thin
  call into :mod:`convscope.experiments`, plus the session state;
* :mod:`.render`: arrays to pictures and HTML without matplotlib;
* :mod:`.app`: the seven tabs, the error guard and the offline launch.

Gradio is imported only by :func:`build_app`, after the environment is made
offline, so importing this package stays cheap.
"""

from __future__ import annotations

__all__ = ["API_NAMES", "build_app", "launch"]

from .callbacks import API_NAMES


def build_app(**kw):
    """See :func:`convscope.explore.app.build_app`."""
    from .app import build_app as _build

    return _build(**kw)


def launch(demo, **kw) -> str:
    """See :func:`convscope.explore.app.launch`."""
    from .app import launch as _launch

    return _launch(demo, **kw)
