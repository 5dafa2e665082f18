"""`python -m specreg_cli` runs the same CLI as the `specreg` console script."""

from specreg_cli.cli import main

main()
