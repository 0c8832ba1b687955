"""Exit statuses of the command line, from sysexits.h, so a sysadmin's script can act on them."""

EX_OK = 0
EX_FAILURE = 1
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66  # a file to read is not there
EX_UNAVAILABLE = 69  # the daemon (or an address it needs) is not available
EX_OSERR = 71
EX_CANTCREAT = 73  # a file or folder could not be created
EX_TEMPFAIL = 75
EX_NOPERM = 77  # the user running the command may not read or write what it needs
EX_CONFIG = 78
