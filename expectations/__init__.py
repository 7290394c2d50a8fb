"""Great Expectations quality gates between stages: suites as code (`suites`) and the runner (`gates`).

Importing this package does not import great_expectations; only `gates.run_gate` does.
"""
from expectations.gates import GateFailed, GateResult, enforce, run_gate

__all__ = ["GateFailed", "GateResult", "enforce", "run_gate"]
