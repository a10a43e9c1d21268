"""The command line: `trustable --help`."""
