"""Demo data: a small shop, and MovieLens 100K, loaded through the real paths."""
