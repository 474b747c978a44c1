"""Training for mmh: losses, the training loop (single process and torchrun DDP), pre-training and multi-head replay fine-tuning."""

__version__ = "0.1.0"
