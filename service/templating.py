"""Where the Jinja templates live, and the one environment mails render with.

The source sits in templates/ at the top of the checkout; pyproject.toml installs it as the
package service.templates, so a checkout, an editable install and a wheel all find it here.
Web pages render through Flask's environment, pointed at the same folder by create_app().
"""

from __future__ import annotations

import importlib.util
import os

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def _template_folder() -> str:
    spec = importlib.util.find_spec("service.templates")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("paperboy is installed without its templates (the package service.templates)")
    return next(path for path in spec.submodule_search_locations if os.path.isdir(path))


TEMPLATES = _template_folder()

mail_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=lambda name: name is not None and name.endswith((".html", ".html.j2", ".mjml.j2")),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
