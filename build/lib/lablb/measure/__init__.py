"""Measurement maths: pure functions over what the probes recorded."""
