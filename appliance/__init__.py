"""The CodeMoat appliance: configuration, CLI, API gateway, engines, prompts, auth, audit, console, jobs.

May import `indexer` and `licensing`; nothing heavy happens at import time."""
