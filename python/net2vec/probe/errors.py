"""Errors of net2vec-probe and their exit codes (those of the net2vec CLI)."""

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INVALID = 2     # invalid input or usage: a malformed annotation, CSV row, option
EXIT_NOT_FOUND = 3   # a named file or folder does not exist
EXIT_IO = 4          # reading or writing failed


class ProbeError(Exception):
    """One message for the user, naming the file and the record at fault."""

    def __init__(self, message: str, code: int = EXIT_INVALID):
        super().__init__(message)
        self.code = code


def not_found(message: str) -> ProbeError:
    return ProbeError(message, EXIT_NOT_FOUND)
