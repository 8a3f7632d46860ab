"""The kata catalogue: find the repository, load and check kata.toml, the pristine seal,
and the private material (reference fix, decoys, holdout tests). The bottom layer."""
