"""``python -m segue``: the command line."""

from segue.cli.main import main

main()
