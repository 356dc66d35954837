"""The benchmark of the upload pipeline: `make bench` (python -m bench)."""
