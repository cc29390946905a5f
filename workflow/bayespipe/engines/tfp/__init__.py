"""TensorFlow Probability networks of the workflow (moons, sinusoid, Zillow network, LeNet).

tfp.layers need Keras 2, so the legacy tf-keras must be selected before anything imports
TensorFlow; that is done here, on import of the package. Nothing heavy is imported here:
TensorFlow takes seconds to load and is imported lazily by ``bayespipe.engines.tfp.session.setup``.

Modules: ``session`` (device, seeds, determinism), ``layers`` (posterior initialisers),
``training`` (mini-batches, progress log), ``tables`` (history and metrics CSV files).
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
# Keep TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) out of the rule logs.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
