"""The only place that talks to model runtimes."""
