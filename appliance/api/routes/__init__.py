"""Thin routers, one per endpoint family; `create_app` includes them."""
