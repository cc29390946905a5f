"""Inference engines: Stan (CmdStanPy or PyStan) and TensorFlow Probability. They know no analysis."""
