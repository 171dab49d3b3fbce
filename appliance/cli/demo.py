"""What `codemoat serve --demo` (and so `make demo`) adds: a fresh token and examples to copy and paste."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.config import Settings

DEMO_TOKEN_NAME = "demo"


def issue_demo_token(settings: Settings) -> str:
    """Revoke the previous demo token, if any, and issue a new administrator token named 'demo'."""
    from appliance.auth.errors import TokenNotFoundError
    from appliance.auth.tokens import TokenStore
    from appliance.state.db import Database

    database = Database.open(settings.state, settings.home)
    try:
        store = TokenStore(database)
        try:
            store.revoke(DEMO_TOKEN_NAME)
        except TokenNotFoundError:
            pass
        return store.create(DEMO_TOKEN_NAME, admin=True).token
    finally:
        database.close()


def demo_banner(url: str, token: str, model: str, chat_model: str | None = None) -> str:
    chat_model = chat_model or model
    completion = json.dumps(
        {
            "model": model,
            "prompt": "def read_config(path):\n    ",
            "suffix": "\n    return config\n",
            "max_tokens": 48,
            "repo": "codemoat",
            "path": "appliance/example.py",
        }
    )
    chat = json.dumps(
        {
            "model": chat_model,
            "messages": [{"role": "user", "content": "Where are API tokens hashed?"}],
            "max_tokens": 128,
            "stream": True,
        }
    )
    python = f'''from openai import OpenAI

client = OpenAI(base_url="{url}/v1", api_key="{token}")
done = client.completions.create(model="{model}", prompt="def fibonacci(n):\n", suffix="\n", max_tokens=48)
print(done.choices[0].text)
for chunk in client.chat.completions.create(
    model="{chat_model}", stream=True, max_tokens=128,
    messages=[{{"role": "user", "content": "What does create_app wire together?"}}],
):
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
print()'''
    header = f"-H {shlex.quote('Authorization: Bearer ' + token)} -H 'Content-Type: application/json'"
    rule = "-" * 100
    return "\n".join(
        [
            rule,
            f"URL:   {url}",
            f"Token: {token}   (administrator; shown once, revoke with `codemoat token revoke demo`)",
            "",
            "# ready? (the model loads in the background)",
            f"curl -s {url}/readyz",
            "",
            "# code completion at a cursor (prompt = text before it, suffix = text after it)",
            f"curl -s {url}/v1/completions {header} \\\n  -d {shlex.quote(completion)}",
            "",
            "# chat, streamed as server-sent events",
            f"curl -sN {url}/v1/chat/completions {header} \\\n  -d {shlex.quote(chat)}",
            "",
            "# the official openai package (python)",
            python,
            "",
            "Press Ctrl-C to stop.",
            rule,
        ]
    )
