"""API keys: who may send which streams, who may read, and how fast (`[auth]`)."""
