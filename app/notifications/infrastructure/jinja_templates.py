"""E-mail templates with Jinja2: ``<name>.subject.txt``, ``<name>.txt`` and ``<name>.html``
(HTML autoescaped, so names and reasons typed by users cannot inject markup)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from app.notifications.domain.email import EmailMessage


class JinjaEmailTemplates:
    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("app.notifications.infrastructure", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,  # a missing variable is a bug, not a blank in an e-mail
            trim_blocks=False,
            keep_trailing_newline=True,
        )

    def render(self, template: str, *, to: str, context: Mapping[str, Any]) -> EmailMessage:
        def render(suffix: str) -> str:
            return self._env.get_template(f"{template}.{suffix}").render(**context)

        return EmailMessage(
            to=to,
            subject=" ".join(render("subject.txt").split()),
            text=render("txt"),
            html=render("html"),
        )
