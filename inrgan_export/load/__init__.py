"""Load: every model source (our ``.pt``, ``demo:<preset>``, the authors' files through the
families' importers) into a PyTorch model, the PyTorch reference backend, and the split of a
model into the graphs the exporter writes (hypernetwork, INR)."""
