"""The real pymemgpt 0.3.25 client, in a venv of its own, driven against a real server."""
