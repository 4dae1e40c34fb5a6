"""Pure, deterministic renderers for the Asterisk side, and atomic writes."""

from vaxeld.render.files import render_all, write_atomically

__all__ = ["render_all", "write_atomically"]
