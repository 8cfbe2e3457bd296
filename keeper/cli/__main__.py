"""`python -m keeper.cli`: the `primevault` command, for a child process started with this interpreter."""

from keeper.cli.main import main

main()
