"""`python -m patchkit`: the same command line as the `patchkit` script."""

from patchkit.cli import main

main()
