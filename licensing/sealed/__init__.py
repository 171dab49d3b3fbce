"""Sealed (encrypted) model weights: the format, the vendor's sealer, the in-memory reader and the torch
bridge (`torch_loader`, which imports torch lazily)."""
