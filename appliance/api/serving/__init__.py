"""Serving logic per endpoint family: validate, gather context, call the engine, shape the answer."""
