"""File formats shared with TensorFlow: CRC-32C, the protobuf wire format for the few messages
jitflow encodes itself (the checkpoint bundle's), and TF's compiled message classes."""
