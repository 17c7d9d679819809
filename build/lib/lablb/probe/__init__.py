"""The client-side prober: packets (pure) and the probe process (edge)."""
