"""Shared fixtures of the integration tests: they are methods of `ContractTests` (contract.py),
which each framework's module subclasses, so that every adapter runs the same contract."""
