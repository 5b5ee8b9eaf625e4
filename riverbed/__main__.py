"""``python -m riverbed`` runs the CLI."""

from riverbed.cli import main

main()
