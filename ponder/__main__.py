"""`python -m ponder` runs the CLI."""

from ponder.cli.main import main

main()
