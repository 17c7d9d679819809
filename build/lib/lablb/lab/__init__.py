"""The lab layer: Mininet topologies brought up, driven and torn down.

The only part of lablb that imports Mininet (lazily, where a lab is built), so that
Mininet's camelCase API stays here.
"""
