"""JSON endpoints, one module per concern."""
