"""Inference engines: Stan (CmdStanPy or PyStan) and TensorFlow Probability; no analysis code."""
