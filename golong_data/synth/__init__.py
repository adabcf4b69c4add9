"""The synthesize stage: contexts, slot selection, LLM constructors (the nine task types live in tasks/)."""
