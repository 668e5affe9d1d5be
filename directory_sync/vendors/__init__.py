"""Vendor quirks, one module per directory vendor."""
