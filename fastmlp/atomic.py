"""Writing a file in one step: a temporary beside the target (through a symlink: beside the link's target),
fsynced, given the mode of the file it replaces (a new file: 0666 less the umask, applied by the kernel), renamed
over the target, then the folder fsynced. A failure leaves the old file as it was. Temporaries are named
``.<name>.<pid>.<token>.fastmlp-tmp``; leftovers of writers that died (SIGKILL) are removed by the next write of
the same target. Model files (``fastmlp.modelfile``) and the command line's outputs are written this way."""
import errno
import os
import re
import stat

TMP_SUFFIX = ".fastmlp-tmp"


def write(path, writer, binary=True, what="save"):
    """Call ``writer(fh)`` on the temporary (opened ``"wb"``, or ``"w"`` with ``newline=""`` when not
    ``binary``) and put it in place of ``path``. Errors name ``path`` (never the temporary), prefixed by
    ``what``."""
    target = os.path.realpath(path)  # through symlinks: replace the file a link points to, not the link
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, f"{what}: the folder of {path} does not exist", folder)
    mode = _existing_mode(target, what)
    name = os.path.basename(target)
    _remove_stale(folder, name)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{os.urandom(4).hex()}{TMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:  # name the file the user asked for, not the temporary beside it
        raise type(exc)(exc.errno, f"{what}: cannot write {path} ({exc.strerror})", path) from None
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as fh:
            if mode is not None:
                os.fchmod(fh.fileno(), mode)  # the replaced file's mode stays
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)


def _existing_mode(target, what):
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"{what}: not a regular file", target) if stat.S_ISDIR(st.st_mode) \
            else ValueError(f"{what}: {target} exists and is not a regular file")
    return stat.S_IMODE(st.st_mode)


def _remove_stale(folder, name):
    """Remove the temporaries that writers of ``folder/name`` left when they died (their pid is gone)."""
    pattern = re.compile(r"\." + re.escape(name) + r"\.(\d+)\.[0-9a-f]+" + re.escape(TMP_SUFFIX) + "$")
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
        except OSError:
            pass


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process (or a pid we cannot ask about): leave its file
    return True


def _fsync_folder(folder):
    try:
        dfd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
