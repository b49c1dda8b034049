"""Benchmark commands: `python -m bench.<name>`; each prints its figures and the machine it ran on."""
