"""The Model Context Protocol server: the company's code as tools for agents (search, definitions, references,
file ranges, repositories, recent changes), at `/mcp` with the same bearer tokens and repository scopes as `/v1`.

    config.py     McpSettings (settings.mcp)
    tools.py      CodeTools: what each tool answers, for one caller's scope; no MCP types
    server.py     the SDK's MCPServer over CodeTools, and the authenticated ASGI endpoint mounted by the app
"""
