"""Continuous batching for llama.cpp models, inside the model's runner process."""
