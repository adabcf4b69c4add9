"""Near-duplicate and contamination removal: the dedup stage, MinHash, benchmark n-grams, sharded dedup."""
