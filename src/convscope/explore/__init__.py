"""The live explorer (``convscope explore``): the whole story in the browser, with Gradio.

* :mod:`.tabs`: one module per tab, each with its callbacks (plain functions of
  plain values, no Gradio, each a thin call into :mod:`convscope.experiments`)
  and a ``build`` that lays the tab out and wires it;
* :mod:`.session`: the state (the shared classifier, one live DCGAN per visitor);
* :mod:`.common`: the work image, the error guard and the wiring helpers;
* :mod:`.render`: arrays to pictures and HTML without matplotlib;
* :mod:`.guard`: only this machine's own pages may talk to the server;
* :mod:`.app`: the assembly and the offline launch.

Gradio is imported only by :func:`build_app`, after the environment is made
offline, so importing this package stays cheap.
"""

from __future__ import annotations

__all__ = ["API_NAMES", "build_app", "launch"]

from .tabs import API_NAMES


def build_app(**kw):
    """See :func:`convscope.explore.app.build_app`."""
    from .app import build_app as _build

    return _build(**kw)


def launch(demo, **kw) -> str:
    """See :func:`convscope.explore.app.launch`."""
    from .app import launch as _launch

    return _launch(demo, **kw)
