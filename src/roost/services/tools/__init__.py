"""Tools the model may call: the interface (base), the built-in tools (builtin)."""
