"""The vendor's forensics on model weights: a per-customer fingerprint embedded before sealing and traced in a
leaked copy (`fingerprint`, `registry`), and a test of whether a suspect model was derived from a base
(`provenance`). Both are evidence after the fact, not prevention: a determined party who retrains heavily or
merges many models can wash a fingerprint out (see docs/forensics.md).

These modules read weights with numpy (and `gguf`, scipy where named); they run on the vendor's machine from
the server install. Nothing on the appliance side or in the vLLM plugin imports them, so `licensing/` itself
still installs with `cryptography` alone."""
