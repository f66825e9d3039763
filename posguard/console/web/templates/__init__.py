"""HTML templates (string.Template)."""
