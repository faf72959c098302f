"""Storage adapters: store URLs, the event mapper, the hash chain and its verifier."""
