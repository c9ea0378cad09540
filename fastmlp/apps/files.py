"""Files of the command line: inputs must be regular files (a FIFO would block, /dev/zero never ends), an output
is never one of the inputs and replaces an existing file only with --force, outputs are written atomically, and
standard output that cannot be written (a full device) is one line, not a traceback."""
import os
import stat
import sys
import tempfile


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def regular_file(path, what=None):
    """Refuse anything but an existing regular file (a FIFO would block, /dev/zero never ends), before opening it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise CLIError(f"{path}: is a folder, expected {what or 'a .npz or .csv file'}")
    if not stat.S_ISREG(st.st_mode):
        raise CLIError(f"{path}: not a regular file (a pipe, a device or a socket); give "
                       f"{what or 'a .npz or .csv file'}")
    return st


# ---- outputs -----------------------------------------------------------------------------------------------------
def check_output(out, inputs, force, option="--out"):
    """Refuse an output that is one of the inputs (the same file, also through links), an existing output
    without --force, a folder, and a folder that does not exist or cannot be written -- before any work."""
    real = os.path.realpath(out)
    for src in inputs:
        same = os.path.realpath(src) == real
        if not same and os.path.exists(out) and os.path.exists(src):
            try:
                same = os.path.samefile(out, src)
            except OSError:
                same = False
        if same:
            raise CLIError(f"{option} {out}: is the input {src}; write to another file")
    if os.path.isdir(out):
        raise CLIError(f"{option} {out}: is a folder")
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {out}: cannot write: the folder {os.path.dirname(os.path.abspath(out))} does "
                       f"not exist")
    if os.path.lexists(out) and not force:
        raise CLIError(f"{option} {out}: the file exists; pass --force to replace it")
    if os.path.exists(out) and not os.path.isfile(real):
        raise CLIError(f"{option} {out}: not a regular file")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CLIError(f"{option} {out}: cannot write in {folder} ({exc.strerror or exc})") from None
    return real


class StdoutError(Exception):
    """Standard output could not be written (a full device, ...): main says so in one line."""


class GuardedStdout:
    """sys.stdout whose write errors (other than a closed pipe) are StdoutError, so that they are told apart from
    the errors of other files."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, s):
        try:
            return self._stream.write(s)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None

    def flush(self):
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutError(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def stdout_failed(command, exc):
    """Standard output cannot be written (``> /dev/full``): one line on stderr, the unwritten output discarded (so
    that Python's last flush at exit does not print a traceback); returns the exit status, 1."""
    print(f"fastmlp {command}: standard output: cannot write ({exc.strerror or exc})", file=sys.stderr)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return 1


def writable_folder(path):
    """None when files can be written into the folder ``path`` (created if missing), else why not."""
    if os.path.exists(path) and not os.path.isdir(path):
        return "is a file, expected a folder"
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"cannot write there ({exc.strerror or exc})"
    return None
