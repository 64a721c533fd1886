"""Presentation: terminal (rich), LaTeX, Markdown, HTML, JSON, and the ``bptt`` command."""
