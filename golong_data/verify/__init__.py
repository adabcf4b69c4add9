"""The verify stage: checks that every sample's answer is right and must be read from its context."""
