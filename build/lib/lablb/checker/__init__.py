"""Health checkers: timing and pool logic (pure); probes.py and daemon.py are the edge."""
