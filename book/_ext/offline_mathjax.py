"""Refuse to build the book without the vendored MathJax.

The pages load MathJax from ``_static/mathjax/`` (``mathjax_path`` in
``_config.yml``), which is copied there from ``book/_vendor/static/mathjax``.
That folder is git-ignored and filled from the npm registry by ``make book``.
Without this check a missing copy would give a book whose equations silently
stay as TeX source.
"""
from pathlib import Path

from sphinx.errors import ConfigError

FETCH = ("npm install --no-save --no-package-lock --prefix book/_vendor/npm mathjax@3.2.2 && "
         "mkdir -p book/_vendor/static && "
         "cp -r book/_vendor/npm/node_modules/mathjax/es5 book/_vendor/static/mathjax")


def _check(app):
    for static in app.config.html_static_path:
        if (Path(app.confdir) / static / app.config.mathjax_path).is_file():
            return
    raise ConfigError(f"MathJax is not vendored: no {app.config.mathjax_path} under "
                      f"{app.config.html_static_path}.  Run `make book`, or from the "
                      f"repository root: {FETCH}")


def setup(app):
    app.connect("builder-inited", _check)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
