"""A cited source's preview in the console: the excerpt (appliance/excerpts.py) with its highlighted HTML."""

from __future__ import annotations

from typing import Any

from appliance.console.render import code_html
from appliance.excerpts import Excerpt

__all__ = ["excerpt_json"]


def excerpt_json(excerpt: Excerpt) -> dict[str, Any]:
    return excerpt.to_json() | {"html": code_html(excerpt.text, path=excerpt.path, language=excerpt.language)}
