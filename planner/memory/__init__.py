"""Memory arithmetic: figures that explain themselves, the KV cache, and the estimate types."""
