"""Benchmarks for Convene (issue 9): a load generator, a baseline server and the scenarios that use them.

Run `python -m bench` (quick sizes) or `python -m bench --full`; see docs/performance.md.
"""
