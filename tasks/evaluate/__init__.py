"""evaluate stage (DeepSeek-Coder §4): HumanEval in eight languages, MBPP, HumanEval-FIM and single-line FIM in
three languages, LeetCode Contest, and held-out validation of any HF Llama-format checkpoint, with generated
code run in a sandbox (`sandbox.run_program`; other languages with their toolchain, `toolchains.command`) and
the scores arranged as the paper's tables (`tables.paper_tables`).

Importing this package does not import torch or transformers; `evaluate`/`run_benchmark` do, lazily.
"""
from tasks.evaluate.config import BENCHMARKS, Config, config_from_params
from tasks.evaluate.harness import aggregate, evaluate, run_benchmark
from tasks.evaluate.passk import mean_pass_at_k, pass_at_k
from tasks.evaluate.sandbox import Limits, Result, run_program, run_programs, sandbox_support

__all__ = [
    "BENCHMARKS", "Config", "Limits", "Result", "aggregate", "config_from_params", "evaluate", "mean_pass_at_k",
    "pass_at_k", "run_benchmark", "run_program", "run_programs", "sandbox_support",
]
