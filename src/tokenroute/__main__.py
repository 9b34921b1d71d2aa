"""`python -m tokenroute` runs the same CLI as the `tokenroute` command."""

from tokenroute.cli.entry import main

if __name__ == "__main__":  # importing it (as tools and test runners do) runs nothing
    main()
