"""`python -m tokenroute` runs the same CLI as the `tokenroute` command."""

from tokenroute.entry import main

main()
