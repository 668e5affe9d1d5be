"""Settings live in one module per environment: base, local, production and test."""
