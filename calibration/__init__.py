"""INT8 calibration (installed as ``inrgan_export.calibration``; the design card's top-level
``calibration/`` folder holds this code through a setuptools package-dir mapping).

A GAN generator needs no dataset to calibrate: its inputs are latents from a known prior and
coordinate grids from the deployment's resolution range, so calibration data is free, exact
and reproducible.
"""
