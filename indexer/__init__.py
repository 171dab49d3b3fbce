"""Repositories → files → tree-sitter chunks → dense + sparse vectors → Qdrant; symbol table; hybrid retrieval.

May import third-party packages only: never `appliance`, `lsp` or `licensing`."""
