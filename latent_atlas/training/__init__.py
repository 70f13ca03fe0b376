"""Training, evaluation, checkpoints, metrics and logging."""
