"""LLVM kernels and elementwise lowerings of the NN ops (jitflow/ops/nn.py)."""
