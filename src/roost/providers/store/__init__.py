"""Pulled models: the store on disk (manifest.py) and pulls from the Hugging Face Hub."""
