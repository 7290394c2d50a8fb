"""Peak FLOP/s for MFU: from the config, a table of accelerator datasheets, or a matmul benchmark.

MFU = achieved model FLOP/s (PaLM: tokens/s * (6N + 12*L*H*Q*T)) / (peak FLOP/s per device * devices).
On CPU there is no datasheet number worth trusting (it depends on cores, AVX width, clocks and the
other processes on the machine), so the peak is measured: the best of a few square matmuls in the
training dtype with the training thread count. That makes CPU MFU "share of what this machine's
matmul kernel reaches now" rather than a hardware ceiling; set `pretrain.peak_flops` to compare runs
across machines.
"""
from __future__ import annotations

import time

import torch

# Dense (no sparsity) bf16 tensor-core peaks per device, FLOP/s, from vendor datasheets.
GPU_PEAK_BF16 = {
    "H200": 989.4e12,
    "H100 SXM": 989.4e12,
    "H100 PCIe": 756.0e12,
    "H100": 989.4e12,
    "A100": 312.0e12,
    "L40S": 362.05e12,
    "A10G": 70.0e12,
    "L4": 121.0e12,
}


def measure_matmul_peak(dtype: torch.dtype = torch.float32, n: int = 1024, repeats: int = 10,
                        device: str | torch.device = "cpu") -> float:
    """Best FLOP/s of `repeats` (n x n) @ (n x n) products (2n^3 FLOPs each) after one warm-up."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    torch.mm(a, b)
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best


def peak_flops(device: torch.device, dtype: torch.dtype, configured: float | None) -> tuple[float, str]:
    """(FLOP/s per device, where the number came from)."""
    if configured:
        return float(configured), "config"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        if dtype == torch.bfloat16:
            for key, value in GPU_PEAK_BF16.items():
                if key in name:
                    return value, f"datasheet:{key}"
        return measure_matmul_peak(dtype, n=8192, repeats=20, device=device), f"measured:matmul n=8192 {dtype}"
    return measure_matmul_peak(dtype, n=1024, device=device), (
        f"measured:matmul n=1024 {str(dtype).removeprefix('torch.')} threads={torch.get_num_threads()}")


if __name__ == "__main__":  # python -m tasks.pretrain.flops [threads]
    import sys

    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads())
    for dt in (torch.float32, torch.bfloat16):
        print(f"{dt}: {measure_matmul_peak(dt, repeats=20) / 1e9:.1f} GFLOP/s with {torch.get_num_threads()} threads")
