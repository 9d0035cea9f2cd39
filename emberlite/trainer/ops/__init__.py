"""The trainer's ops: primitives (registry.py) and what is composed from them."""
