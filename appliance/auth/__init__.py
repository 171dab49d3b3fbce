"""Who is calling: bearer tokens (random, shown once, stored as SHA-256 hashes), the principal a token stands
for, and the repositories that principal may read."""
