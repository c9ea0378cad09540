"""Twins of the C functions that read the machine: ``cpu_path`` (csrc/dense.c), ``dense_blocking`` (dense.c's
caches through ``dense_blocking_for``), ``bf16_path`` (csrc/bf16.c) and ``bf16_train_path`` (csrc/bf16_train.c).

The C core asks the CPU (``__builtin_cpu_supports``: CPUID and XCR0; ``__get_cpuid_count``), sysfs and Linux
(``arch_prctl``); these twins ask what plain Python can read of the same machine: the flags of ``/proc/cpuinfo``
(Linux lists there what CPUID reports and XCR0 enables: it clears AVX / AVX-512 / AMX flags whose register state
the OS does not save), ``/sys/devices/system/cpu/cpu0/cache`` and the same ``arch_prctl`` request through ctypes.
Each applies the C code's rule in the C code's order to what it read, so on any machine it says what the compiled
library decided.

Two differences, by construction:

- the environment (``FASTMLP_ISA``, ``FASTMLP_BLOCKS``, ``FASTMLP_BF16``, ``FASTMLP_BF16_TRAIN``:
  ``ENV_NAMES``) is read at each call here,
  while the C core read it once, at ``fm_init`` (when ``fastmlp`` was imported): change ``os.environ`` after the
  import and the twins follow it, the library does not;
- where this machine does not show what the C reads (no ``/proc/cpuinfo`` flags on an x86-64 machine, as on macOS;
  no cache of a level in sysfs, where the C asks ``sysconf``), the twin raises ``MachineInfoError`` rather than
  guess.

A kernel boot option that hides a flag (``clearcpuid=``) hides it from the twins but not from CPUID, and the twins
assume a library built with its x86-64 paths (GCC >= 11 or clang, as the wheels are).
"""
import ctypes
import os
import platform
import sys

from .bf16 import bf16_path_for
from .dense import dense_blocking_for

# core.c's fm_env_names, in its order
ENV_NAMES = ("FASTMLP_ISA", "FASTMLP_BLOCKS", "FASTMLP_BF16", "FASTMLP_BF16_TRAIN")
ENV_MAX = 63  # bytes of a value the C keeps (fm_env_vals[i][64]); longer values are cut there
PATHS = ("naive", "baseline", "avx2", "avx512")  # dense.c's FM_PATH_*, lowest first
SYSFS_CACHE = "/sys/devices/system/cpu/cpu0/cache"
CACHE_FALLBACK = {1: 32 * 1024, 2: 1024 * 1024, 3: 8 * 1024 * 1024}  # fmi_caches' fallbacks
BF16_TRAIN_PATHS = ("emulated", "avx512bf16", "amx")  # bf16_train.c's FM_MIX_*, by value
SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 158, 0x1023, 18  # x86-64 Linux
ULONG_MAX = 2 ** 64 - 1
SPACE = " \t\n\v\f\r"  # C isspace


class MachineInfoError(RuntimeError):
    """This machine does not show a twin what the C core read (no ``/proc/cpuinfo`` flags, no cache in sysfs).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> try:
    ...     path = ref.cpu_path()
    ... except ref.MachineInfoError as e:   # e.g. macOS: the C asked CPUID, which plain Python cannot
    ...     path = None
    >>> path in ("avx512", "avx2", "baseline", "naive", None)
    True
    """


def env(name):
    """The value of one of ``ENV_NAMES`` as the C core keeps it (its first 63 bytes), None when unset (``fmi_env``)."""
    value = os.environ.get(name)
    return None if value is None else os.fsdecode(os.fsencode(value)[:ENV_MAX])


def is_x86_64():
    """Whether the C core was built with its x86-64 dispatch (x86-64 with GCC or clang: ``FM_X86_DISPATCH``)."""
    return platform.machine().lower() in ("x86_64", "amd64") and sys.maxsize > 2 ** 32


def cpu_flags():
    """The flags of cpu0 in ``/proc/cpuinfo`` as a set; ``MachineInfoError`` where there are none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags") and ":" in line:
                    return set(line.partition(":")[2].split())
    except OSError as e:
        raise MachineInfoError(f"no /proc/cpuinfo here ({e.strerror}): the C core asked the CPU (CPUID), which "
                               f"plain Python cannot") from None
    raise MachineInfoError("/proc/cpuinfo lists no flags: the C core asked the CPU (CPUID), which plain Python "
                           "cannot")


def cpu_path():
    """The kernel path the C core runs on this machine (twin of ``fm_cpu_path``).

    AVX-512 where the CPU has AVX-512F, else AVX2 where it has AVX2 and FMA (x86-64 only), else the portable
    baseline; ``FASTMLP_ISA`` ("avx512", "avx2", "baseline", "naive") can only lower the choice, other values are
    ignored.

    Returns
    -------
    str
        "avx512", "avx2", "baseline" or "naive".

    Raises
    ------
    MachineInfoError
        On an x86-64 machine without ``/proc/cpuinfo`` flags (not Linux).

    See Also
    --------
    fastmlp._core.cpu_path : The C core's choice, made once at import.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> ref.cpu_path() in ("avx512", "avx2", "baseline", "naive")
    True
    """
    best = PATHS.index("baseline")
    if is_x86_64():
        flags = cpu_flags()
        if "avx512f" in flags:
            best = PATHS.index("avx512")
        elif "avx2" in flags and "fma" in flags:
            best = PATHS.index("avx2")
    want = env("FASTMLP_ISA")
    if want in PATHS:  # a request can only lower the path
        best = min(best, PATHS.index(want))
    return PATHS[best]


def c_unsigned_long(text):
    """sscanf's ``%lu`` at the start of text: (value, rest), or None where no number starts there.

    Leading white space and a sign are taken; a negative value wraps modulo 2**64 and an overflow gives ULONG_MAX,
    as strtoul does."""
    rest = text.lstrip(SPACE)
    sign = rest[:1] if rest[:1] in ("+", "-") else ""
    rest = rest[len(sign):]
    digits = len(rest) - len(rest.lstrip("0123456789"))
    if not digits:
        return None
    value = int(rest[:digits])
    value = ULONG_MAX if value > ULONG_MAX else (-value) % 2 ** 64 if sign == "-" else value
    return value, rest[digits:]


def forced_blocks(value):
    """(kc, nc) of a ``FASTMLP_BLOCKS`` value: ``sscanf(value, "%lu,%lu")`` read two numbers, kc <= 2**20 and
    nc <= 2**24; else (0, 0), the cache-derived sizes (fmi_caches)."""
    first = c_unsigned_long(value) if value is not None else None
    if first is None or not first[1].startswith(","):
        return 0, 0
    second = c_unsigned_long(first[1][1:])
    if second is None or first[0] > 2 ** 20 or second[0] > 2 ** 24:
        return 0, 0
    return first[0], second[0]


def sysfs_cache(level):
    """Bytes of cpu0's data (or unified) cache of this level in sysfs, 0 when not found (``fm_sysfs_cache``).

    The ``index0``..``index7`` directories in order, stopping at the first missing one: the first of this level
    whose type is not "Instruction" and whose size ("48K", "2048K", "1M" or bytes) is not 0."""
    for idx in range(8):
        folder = f"{SYSFS_CACHE}/index{idx}"
        try:
            level_text = _read(f"{folder}/level")
        except OSError:
            return 0
        parsed = c_unsigned_long(level_text)  # fscanf "%d": a level is a small number
        if parsed is None or parsed[0] != level:
            continue
        try:
            if _read(f"{folder}/type")[:31].startswith("Instruction"):
                continue
        except OSError:
            pass  # no type: taken as data
        try:
            size = c_unsigned_long(_read(f"{folder}/size"))
        except OSError:
            size = None
        if size is not None:
            unit = size[1][:1]
            got = size[0] * (1024 if unit == "K" else 1024 * 1024 if unit == "M" else 1) % 2 ** 64
            if got:
                return got
    return 0


def _read(path):
    with open(path, errors="surrogateescape") as f:
        return f.read()


def cache_size(level):
    """Bytes of this machine's level 1 data, level 2 or level 3 cache as the C core takes them (``fm_cache_size``):
    sysfs, else (the C asks ``sysconf``, CPUID on glibc) ``MachineInfoError``."""
    got = sysfs_cache(level)
    if got:
        return got
    raise MachineInfoError(f"{SYSFS_CACHE} shows no level {level} data cache here: the C core asked sysconf (CPUID on "
                           f"glibc) or took {CACHE_FALLBACK[level]} bytes, which plain Python cannot tell apart")


def caches():
    """The caches and forced block sizes the C core blocks with (twin of ``fmi_caches``): a dict of l1d, l2, l3
    (bytes, clamped as ``dense_blocking_for`` clamps them) and kc, nc from ``FASTMLP_BLOCKS`` (0: none)."""
    info = [0] * 7
    dense_blocking_for("naive", info, cache_size(1), cache_size(2), cache_size(3), 0, 0, 0)  # the clamping alone
    kc, nc = forced_blocks(env("FASTMLP_BLOCKS"))
    return {"l1d": info[0], "l2": info[1], "l3": info[2], "kc": kc, "nc": nc}


def dense_blocking(f64, info):
    """How the C core's dense products are cache-blocked on this machine (twin of ``fm_dense_blocking``).

    The rule ``dense_blocking_for`` applied to this machine's kernel path (``cpu_path``), the caches cpu0 reports
    in sysfs and ``FASTMLP_BLOCKS=kc,nc`` (ignored unless two numbers within the rule's limits).

    Parameters
    ----------
    f64 : int
        Nonzero for float64 elements, 0 for float32.
    info : list of int
        Written: 7 values, the clamped l1d, l2, l3 (bytes), then kc, nc, the register tile's rows and columns.

    Raises
    ------
    MachineInfoError
        Where this machine does not show its flags (``cpu_path``) or a cache level in sysfs.

    See Also
    --------
    fastmlp._core.dense_blocking : The C core's blocking (a dict of the same 7 values).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> info = [0] * 7
    >>> ref.dense_blocking(0, info)
    >>> info[0] >= 16 * 1024 and info[1] >= 128 * 1024 and info[2] >= info[1]
    True
    """
    c = caches()
    dense_blocking_for(cpu_path(), info, c["l1d"], c["l2"], c["l3"], c["kc"], c["nc"], f64)


def bf16_path():
    """The bfloat16 product path the C core runs on this machine (twin of ``fm_bf16_path``).

    The rule ``bf16_path_for`` applied to this machine's kernel path (``cpu_path``), whether the CPU has AVX-512F
    and AVX512_BF16 (x86-64 only) and ``FASTMLP_BF16=nofma``.

    Returns
    -------
    str
        "vdpbf16ps" or "emulated", with "+fma" on the avx512 and avx2 paths unless ``FASTMLP_BF16=nofma``.

    Raises
    ------
    MachineInfoError
        On an x86-64 machine without ``/proc/cpuinfo`` flags (not Linux).

    See Also
    --------
    fastmlp.bf16_path : The C core's path, chosen once.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> ref.bf16_path() in ("vdpbf16ps+fma", "vdpbf16ps", "emulated+fma", "emulated")
    True
    """
    flags = cpu_flags() if is_x86_64() else set()
    has_bf16 = int("avx512f" in flags and "avx512_bf16" in flags)
    name = [None]
    bf16_path_for(cpu_path(), name, has_bf16, int(env("FASTMLP_BF16") == "nofma"))
    return name[0]


def amx_permitted():
    """Whether Linux lets this process use the AMX tile data (``arch_prctl(ARCH_REQ_XCOMP_PERM,
    XFEATURE_XTILEDATA)`` returns 0), asked as the C core asks: the request, once granted, holds for the process."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc.syscall(ctypes.c_long(SYS_ARCH_PRCTL), ctypes.c_long(ARCH_REQ_XCOMP_PERM),
                        ctypes.c_long(XFEATURE_XTILEDATA)) == 0


def bf16_train_detect():
    """The index in ``BF16_TRAIN_PATHS`` of the path the C core's mixed-precision products take here
    (``fm_mix_detect``): none but emulated off x86-64 Linux, off the avx512 kernel path or without AVX512BW and
    AVX512_BF16; then at most the cap ``FASTMLP_BF16_TRAIN`` sets ("emulated", "avx512bf16"; anything else: no
    cap); AMX where the CPU has AMX-BF16 and AMX-TILE and Linux grants the tile state, else avx512bf16."""
    emulated, vdp, amx = (BF16_TRAIN_PATHS.index(p) for p in ("emulated", "avx512bf16", "amx"))
    if not (sys.platform.startswith("linux") and is_x86_64()):
        return emulated
    cap = env("FASTMLP_BF16_TRAIN")
    cap = emulated if cap == "emulated" else vdp if cap == "avx512bf16" else amx
    if cpu_path() != "avx512":  # FASTMLP_ISA lowered, or no AVX-512
        return emulated
    flags = cpu_flags()
    if "avx512bw" not in flags or "avx512_bf16" not in flags:
        return emulated
    if cap != amx:
        return cap
    if "amx_bf16" not in flags or "amx_tile" not in flags:
        return vdp
    return amx if amx_permitted() else vdp


def bf16_train_path():
    """The path of the C core's mixed-precision training step on this machine (twin of ``fm_bf16_train_path``).

    "amx" where the library was built with it (x86-64 Linux), the kernel path is avx512 (``FASTMLP_ISA`` not
    lower), the CPU has AVX512BW, AVX512_BF16, AMX-BF16 and AMX-TILE, and Linux grants this process the tile state
    (the twin makes the C core's request, ``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``, through ctypes);
    "avx512bf16" where AVX512BW and AVX512_BF16 are there but AMX is not (or ``FASTMLP_BF16_TRAIN=avx512bf16``);
    else "emulated" (also under ``FASTMLP_BF16_TRAIN=emulated``).

    Returns
    -------
    str
        "amx", "avx512bf16" or "emulated".

    Raises
    ------
    MachineInfoError
        On an x86-64 Linux machine without ``/proc/cpuinfo`` flags.

    See Also
    --------
    fastmlp.bf16_train_path : The C core's path, chosen once.

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> ref.bf16_train_path() in ("amx", "avx512bf16", "emulated")
    True
    """
    return BF16_TRAIN_PATHS[bf16_train_detect()]


def init():
    """Twin of ``fm_init``: what the C core reads and decides once, at import, in the same order — the environment
    (``ENV_NAMES``), the kernel path (``cpu_path``), the caches and forced blocks (``caches``), the bf16 path
    (``bf16_path``) and the mixed-precision training path (``bf16_train_path``) — and FM_OK (None here; the twins
    raise where the C returns an error). Unlike the C, which keeps those choices for the process, nothing is kept:
    each twin reads the machine again when called.

    Returns
    -------
    None

    Raises
    ------
    MachineInfoError
        Where this machine does not show what the C read (see the module's docstring).

    Examples
    --------
    >>> import fastmlp.reference as ref
    >>> try:
    ...     ref.init()
    ... except ref.MachineInfoError:   # e.g. macOS: no /proc/cpuinfo flags
    ...     pass
    """
    for name in ENV_NAMES:
        env(name)
    cpu_path()
    caches()
    bf16_path()
    bf16_train_path()
