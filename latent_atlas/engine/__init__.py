"""The one training loop: budgets and schedules, divergence guard, checkpoints and resume, run folders, logging, callbacks."""
