"""Measurements of Trustable's hot paths, run by `make bench` (`python -m bench`).

One run measures collection over real HTTP (`POST /v1/batch` against a server in a
process of its own), the in-process pipeline next to plain inserts of the same rows,
the latency of a consent decision (`Decisions.may`) with 100,000 customers loaded,
what the ledger costs collection (ingest with and without `ledger.append`) and how
fast it proves inclusion and consistency at 1,000,000 entries; it prints each figure
beside its target and writes them, with the machine they were measured on, to
`bench/RESULTS.md`.

`python -m bench.hotspots` profiles the same paths (cProfile) to show where the time
goes. All state lives in temporary directories; nothing touches `.trustable/`.
"""
