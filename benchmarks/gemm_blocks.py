"""sgemm whole vs in blocks of columns, one thread (a measurement, not a test).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 \
        python benchmarks/gemm_blocks.py

The llvm backend computes an sgemm whose M*K leaves room for column blocks of at least 64
columns (a multiple of 32) within M*N*K <= 10^6 block by block (backends/llvm/compiler.py,
``KernelGen._sgemm_column_blocks``): numpy's OpenBLAS takes its small-matrix kernels there,
which pack nothing. This prints GFLOP/s (process CPU time, best of 5) for C = A @ B with C
[M, 1024] computed whole and in blocks of several widths, for the shapes of RNN steps.
"""
from __future__ import annotations

import time

import numpy as np

N = 1024
WIDTHS = [1024, 256, 128, 96, 80, 64, 48]
SHAPES = [(32, 256), (32, 128), (16, 256), (64, 128), (100, 64), (32, 1024)]


def gflops(m: int, k: int, width: int, reps: int = 200) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.random((m, k), np.float32), rng.random((k, N), np.float32)
    c = np.empty((m, N), np.float32)
    blocks = [(j, min(N, j + width)) for j in range(0, N, width)]
    best = float("inf")
    for _ in range(5):
        t = time.process_time()
        for _ in range(reps):
            for j0, j1 in blocks:
                np.matmul(a, b[:, j0:j1], out=c[:, j0:j1])
        best = min(best, (time.process_time() - t) / reps)
    return 2 * m * N * k / best / 1e9


def main() -> None:
    print(f"GFLOP/s of [M, K] @ [K, {N}] by column block width (whole = {N})")
    print("M     K     " + " ".join(f"{w:>6}" for w in WIDTHS))
    for m, k in SHAPES:
        print(f"{m:<5} {k:<5} " + " ".join(f"{gflops(m, k, w):6.0f}" for w in WIDTHS))


if __name__ == "__main__":
    main()
