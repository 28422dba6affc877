"""The torch-free foundation: errors, logging, grids, latents, images, the manifest and the
bundle on disk. Everything a deployed bundle needs except a backend; nothing here imports
torch, onnx or any module above it (tests/test_layers.py)."""
