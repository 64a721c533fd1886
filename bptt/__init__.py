"""``python -m bptt``: the same command as ``bptt`` (the code lives in derive/, numeric/, reports/)."""
