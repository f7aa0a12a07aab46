"""The project's tools, kept apart from the library the notebooks import: benchmarks, shipping, the runner.

Run them from the repository root as modules, e.g. ``python -m tools.bench`` (``make bench``).
"""
