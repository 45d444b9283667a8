"""Every program's end when the reader of its stdout has gone (``… --json | head``): quietly, with 141."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

# 128 + SIGPIPE (13): the status a shell reports for a Unix tool whose reader went away.
EXIT_BROKEN_PIPE = 141


def quiet_on_broken_pipe(main: Callable[[], int]) -> int:
    """Run ``main``; when stdout's reader has gone, end with 141 and no traceback. stdout is pointed at
    /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code
