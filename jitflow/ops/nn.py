"""Neural-network ops (conv2d and its backprops, pooling, bias_add, softmax family,
cross-entropies, in_top_k, argmax/argmin, one_hot, gather, pad, tile, ...)."""
