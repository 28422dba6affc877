"""Rendering past one process: ``render-many`` on a Ray cluster (optional extra ``cluster``)."""
