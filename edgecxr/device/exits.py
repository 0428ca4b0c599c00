"""The runner's exit statuses and its one error type: the runner returns them, edgecxr's bench
and deploy read them. Standard library only, so the runner can name them before numpy is
known to be installed."""

EXIT_BAD_INPUT = 2  # the model, an image or the spec cannot be read
EXIT_NO_RUNTIME = 3  # no TFLite interpreter is installed (or not the one asked for)
EXIT_MISSING_DEPENDENCY = 4  # numpy or Pillow is missing


class Failure(Exception):
    """A one-line error with a hint and the exit status it stands for (the host turns it into
    its own error type)."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.hint, self.code = hint, code
