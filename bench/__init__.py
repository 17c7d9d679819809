"""lablb's benchmarks: ``sudo .venv/bin/python -m bench`` (see ``bench/__main__.py``)."""
