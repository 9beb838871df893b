"""`python -m muspsy.cli ...` runs the command line (the benchmarks start the fake server so)."""

from muspsy.cli import main

main()
