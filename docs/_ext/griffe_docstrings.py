"""A Griffe extension for the API reference: the docstrings' reST habits, read as Markdown.

The docstrings are Google style, written to read well in ``help()``: they cite other
objects with Sphinx roles (``:func:`conv2d```) and put short doctests in their running
text. Rendered as Markdown, a role would show its colons, and a doctest outside an
``Examples:`` section would run together as one paragraph. Before Griffe parses a
docstring, this turns each role into a code span and fences each running-text doctest
as ``pycon``; the sections (``Args:``, ``Examples:``...) stay as Griffe reads them.
"""

from __future__ import annotations

import re

import griffe

# a Google-style section header at the left margin: while inside one, Griffe owns the text
_SECTION = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
# :func:`x`, :mod:`~a.b`, :class:`...`: the target; a leading ~ keeps only its last part
_ROLE = re.compile(r":(?:func|meth|mod|class|data|attr|obj|exc|const):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    """Turn Sphinx cross-reference roles into code spans.

    >>> plain_roles("see :func:`~convscope.conv.conv2d` and :mod:`convscope.fourier`")
    'see `conv2d` and `convscope.fourier`'
    """
    return _ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


def fence_doctests(text: str) -> str:
    """Wrap every run of ``>>>`` lines (with their output) outside a section in a pycon fence.

    >>> fence_doctests("Sum.\\n\\n>>> 1 + 1\\n2\\n\\nMore.").splitlines()
    ['Sum.', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'More.']
    """
    out: list[str] = []
    in_section = in_block = False
    block_indent = ""
    for line in text.splitlines():
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if in_block and not stripped:
            out.append(block_indent + "```")
            in_block = False
        if not in_block:
            if _SECTION.match(line):
                in_section = True
            elif in_section and stripped and not indent:
                in_section = False
            if not in_section and stripped.startswith(">>>"):
                block_indent = indent
                out.append(block_indent + "```pycon")
                in_block = True
        out.append(line)
    if in_block:
        out.append(block_indent + "```")
    return "\n".join(out)


class ReadableDocstrings(griffe.Extension):
    """Apply :func:`plain_roles` and :func:`fence_doctests` to every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(plain_roles(obj.docstring.value))
