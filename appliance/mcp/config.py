from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = ["McpSettings"]


class McpSettings(BaseModel):
    model_config = {"extra": "forbid"}

    enabled: bool = Field(True, description="Serve the MCP tools at /mcp (bearer token as for /v1).")
    max_results: int = Field(
        50, ge=1, le=500, description="The most hits a search or reference tool returns."
    )
    # At most the excerpt reader's own cap (appliance/excerpts.py MAX_LINES).
    max_lines: int = Field(2000, ge=1, le=2000, description="The most lines `read_file` returns at once.")
    max_commits: int = Field(100, ge=1, le=1000, description="The most commits `recent_changes` returns.")
