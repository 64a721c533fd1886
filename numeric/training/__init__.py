"""Training recurrent networks with any ``loss_and_grads`` callable (the generated module's, or a hand-written
model's): corpora and batches for truncated BPTT, synthetic long-lag tasks, initialisation, optimizers,
clipping and the training loop. NumPy only."""
