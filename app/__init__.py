"""PMC Figure Search desktop app (PySide6) and its headless `pmc-search` subcommands."""
