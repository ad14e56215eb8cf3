"""Small helpers shared by the project's command-line interfaces."""
