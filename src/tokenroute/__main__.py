"""`python -m tokenroute` runs the same CLI as the `tokenroute` command."""

from tokenroute.cli import main

main()
