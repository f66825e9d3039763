"""Scripts and styles served under /static/."""
