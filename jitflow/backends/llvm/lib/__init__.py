"""The llvm backend's library kernels (``CUSTOM_KERNELS``: one op per kernel), one module
per family: conv (geometry, direct loop nests, im2col) with conv_gemm (the kernels: strategy,
GEMM chunks, fused epilogue, parallel work units), bias_grad (relu_bias_grad), pool, softmax,
classify, movement; ``ir`` is the loop-nest builder they use.
The NN ops' elementwise lowerings live in the scalar table (``elementwise.py``).

Elementwise (``LOWER``, fused with their neighbours by the fusion pass): elu, leaky_relu,
softplus, relu6, sigmoid_cross_entropy, and bias_add along the last axis (a broadcast add whose
bias is right-aligned). float32 uses mathlib's inline exp/log (plus expm1/log1p built on them
here); float64 calls libm.

Custom kernels (``CUSTOM_KERNELS``, one op per kernel), all NHWC with the channel axis
innermost and contiguous so the innermost loops vectorize:

* conv2d, conv2d_backprop_input, conv2d_backprop_filter: either a direct loop nest (window
  taps clipped to the input, output channels innermost) or im2col + BLAS GEMM. The im2col
  matrix is built in chunks of whole output rows in a kernel-private scratch buffer
  (``KernelGen.scratch``: sized per input-shape signature and planned in the arena, live only
  during the kernel) of about ``IM2COL_BYTES`` so it is still in cache when the GEMM reads it;
  the input backprop multiplies each chunk of the output gradient by the filter into the
  scratch (dcols) and adds it back into the input gradient (col2im); the filter backprop
  accumulates ``cols^T @ g`` over the chunks (GEMM with beta = 1). Choice, measured on the
  MNIST CNN shapes (one thread, this machine): 3x3x1 -> 32 (conv1) direct 0.47 ms vs GEMM
  0.68 ms forward and 0.59 vs 1.03 ms filter backprop; 3x3x32 -> 64 stride 2 (conv2) GEMM
  ~7.0 ms vs direct 7.6-8.3 ms forward, 7.2-7.7 vs 10.2-11.4 ms input backprop, 7.2 vs
  11.3-12.3 ms filter backprop. So: direct when there are at most 4 input channels, else GEMM
  (``JITFLOW_CONV=direct|gemm`` forces one). Both run on jitflow's threads (conv_gemm.py:
  GEMM chunks or images as work units; the direct filter backprop is still serial).
* max_pool / avg_pool and their gradients, max_pool_grad_grad: loops over each window's valid
  taps (the range is clipped, so padding costs nothing), channels innermost. The max-pool
  gradients find each window's first maximum per channel (NaN wins, as in the reference) in two
  channel-sized scratch rows, then scatter (max_pool_grad) or gather (max_pool_grad_grad).
* softmax, log_softmax, reduce_logsumexp, the two softmax cross-entropies: row-wise max, sum of
  exp, normalize. Out-of-range labels (sparse), indices (gather) and empty argmax axes set an
  error status; the executable then re-runs the reference interpreter so the message names
  the offending values exactly as the reference backend does.
* bias_add along any axis (when it is alone in its kernel), in_top_k, argmax/argmin, one_hot,
  gather/gather_grad, split, pad, tile/tile_grad, l2_loss, reduce_all/any: plain loop nests.
* cumsum, cumprod (``scan``): row after row along the axis, the inner elements vectorized.

Accumulators are entry-block allocas (``_IR.local``) that LLVM promotes to registers, so
reductions vectorize (float sums carry ``reassoc``); long float sums (softmax rows, the
cross-entropies, logsumexp, l2_loss, the direct filter gradient) are blocked, with float64
partials (``accum.py``). Innermost channel loops are emitted by
``_IR.vloop`` with loop metadata (unroll disabled, vectorize enabled): otherwise LLVM fully
unrolls a small constant trip count (32 channels) into scalar code and vectorizes the *outer*
loop with gathers and scatters (a bias_add over (100, 28, 28, 32) took 4 ms instead of 0.24).
"""
from __future__ import annotations

from . import (bias_grad, classify, conv, conv_gemm, movement, pool, scan,  # noqa: F401
               softmax)  # (register the kernels)
