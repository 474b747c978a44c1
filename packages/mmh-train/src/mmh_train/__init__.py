"""Training for mmh: losses, the training loop (single process and torchrun DDP), pre-training
and multi-head replay fine-tuning.

Not implemented yet: the package holds what it needs to build and install.
"""

__version__ = "0.1.0"
