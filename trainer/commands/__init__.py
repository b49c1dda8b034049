"""`pmc-trainer` subcommands, one module each, found automatically."""
