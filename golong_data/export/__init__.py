"""The export stage: the RLVR mix, the rows verl reads, and the dataset card."""
