"""moediag: diagnose network-isolated Azure Machine Learning managed online endpoints."""

__version__ = "0.1.0"
