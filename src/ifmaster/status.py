"""Exit status numbers, written once as plain ints.

The hot path returns these without importing enum, which costs about 5 ms, nearly half
of the interpreter's own start-up; ``exitcodes.ExitCode`` names the same numbers for
everything else (help, errors, tests).
"""

OK = 0
NOT_MASTER = 1
SPLIT_BRAIN = 3
TIMEOUT = 124
FAILURE = 125
CANNOT_INVOKE = 126
NOT_FOUND = 127
