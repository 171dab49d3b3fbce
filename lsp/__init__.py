"""codemoat-lsp: the editor bridge. A Language Server on the developer's laptop that talks HTTP to the appliance.

It imports nothing from `indexer`, `appliance` or `licensing` and no ML package: installing it pulls pygls,
lsprotocol and httpx only."""

__version__ = "0.1.0"
