"""The index flow: records into the system of record (SQL) and the vector index (Chroma)."""
