"""The reports app's tables, one module per subject; imported here so Django finds
them."""
