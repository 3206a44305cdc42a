"""The suggestion flow: retrieval, the context built once, privacy, prompts and the generators."""
