"""The console's templates and static files (package data, served by routes/pages.py)."""
