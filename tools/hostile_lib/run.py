"""Running an attack in its own subprocess and folder (memory cap, timeout, signals), hashing the folder before and
after, and classifying the outcome; the CSV-memory attack, which measures two training runs."""
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time

from .case import CLEAN, GiB, HOME
from .prelude import PRELUDE


# ---------------------------------------------------------------------------------------------------------------
# running and classifying
def hash_dir(d):
    out = {}
    for root, dirs, files in os.walk(d):
        for n in files:
            p = os.path.join(root, n)
            if os.path.islink(p) or not os.path.isfile(p):
                out[os.path.relpath(p, d)] = "special"
                continue
            h = hashlib.sha256()
            try:
                with open(p, "rb") as f:
                    for blk in iter(lambda: f.read(1 << 20), b""):
                        h.update(blk)
                out[os.path.relpath(p, d)] = h.hexdigest()
            except OSError:
                out[os.path.relpath(p, d)] = "unreadable"
    return out


def _limits(mem_gb):
    def f():
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (int(mem_gb * GiB), int(mem_gb * GiB)))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return f


BASELINE_RSS = {}


def run_case(case, fixtures, workdir):
    if case.check == "csv_memory":
        t0 = time.perf_counter()
        res = csv_memory(workdir, fixtures)
        res.update(id=case.id, family=case.family, item=case.item, seconds=round(time.perf_counter() - t0, 2))
        return res
    d = os.path.join(workdir, "".join(ch if ch.isalnum() else "_" for ch in case.id)[:80] + f"_{abs(hash(case.id)) % 10**8}")
    os.makedirs(d)
    for n in os.listdir(fixtures):
        shutil.copy2(os.path.join(fixtures, n), d)
    if case.setup:
        case.setup(d)
    before = hash_dir(d)
    env = dict(os.environ, PYTHONPATH=HOME + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1",
               PYTHONFAULTHANDLER="1")
    env.update(case.env)
    if case.code is not None:
        with open(os.path.join(workdir, os.path.basename(d) + ".py"), "w") as f:
            f.write(PRELUDE.replace("__CODE__", textwrap.indent(case.code, "    ")))
        cmd = [sys.executable, os.path.join(workdir, os.path.basename(d) + ".py")]
    else:
        cmd = [sys.executable, "-m", "fastmlp"] + [a.replace("{dir}", os.path.basename(d)) for a in case.argv]
    stdout = subprocess.PIPE
    if case.stdin == "DEVFULL":
        stdout = open("/dev/full", "w")
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=d, env=env, stdout=stdout, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         preexec_fn=_limits(case.mem), text=True, errors="replace")
    timed_out = False
    try:
        if case.signal_after:
            try:
                p.wait(timeout=case.signal_after[0])
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, case.signal_after[1])
        out, err = p.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = p.communicate()
    elapsed = time.perf_counter() - t0
    out = out or ""
    rc = p.returncode
    after = hash_dir(d)
    res = classify(case, d, rc, out, err, elapsed, timed_out, before, after)
    res.update(id=case.id, family=case.family, item=case.item, seconds=round(elapsed, 2))
    if res["category"] == "ok":
        shutil.rmtree(d, ignore_errors=True)
    return res


def _names_ok(case, msg):
    if not case.names:
        return bool(msg.strip())
    low = msg.lower()
    return any(n.lower() in low for n in case.names if n)


def classify(case, d, rc, out, err, elapsed, timed_out, before, after):
    def R(cat, reason):
        return {"category": cat, "reason": reason}
    # lost files: anything present before that changed or vanished; temporaries left behind
    for n, h in before.items():
        if n in case.mutable:
            continue
        if n not in after:
            return R("lost file", f"{n} vanished")
        if after[n] != h:
            return R("lost file", f"{n} changed")
    for n in after:
        if n not in before and n != ".npz" and (n.startswith(".") or "tmp" in n.lower() or n.endswith((".part", ".partial"))):
            return R("lost file", f"temporary {n} left behind")
    if timed_out:
        return R("hang", f"no answer within {case.timeout:g} s")
    if rc is not None and rc < 0 and not (case.signal_after and -rc == case.signal_after[1]):
        return R("crash", f"killed by {signal.Signals(-rc).name}: {(err or '').strip().splitlines()[-1:] or ''}")
    if case.code is not None:
        rep = None
        for ln in out.splitlines():
            if ln.startswith("@@HOSTILE "):
                rep = json.loads(ln[len("@@HOSTILE "):])
        if rep is None:
            tail = " | ".join((err or "").strip().splitlines()[-2:])[:160]
            return R("crash", f"exit {rc} without a report: {tail}")
        if rep.get("rss_mb") and case.max_rss_mb and rep["rss_mb"] > case.max_rss_mb:
            return R("hang", f"runaway memory: peak {rep['rss_mb']:.0f} MB")
        st = rep["status"]
        if st == "wrong":
            return R("silent wrong", rep["reason"])
        if st == "unclear":
            return R("unclear error", rep["reason"])
        if st == "runaway":
            return R("hang", "runaway: " + rep["reason"])
        if st == "ok":
            if case.expect == "error":
                return R("silent wrong", "accepted (expected a refusal)")
            return R("ok", "")
        # an exception
        if case.max_s and elapsed > case.max_s + 1.0:
            return R("hang", f"refused only after {elapsed:.1f} s")
        mro, msg = rep.get("mro", []), rep.get("msg", "")
        if case.expect == "ok":
            return R("silent wrong", f"a valid call refused: {rep['type']}: {msg[:120]}")
        if "KeyboardInterrupt" in mro:
            return R("unclear error", "KeyboardInterrupt escaped")
        clean = bool(CLEAN & set(mro))
        if "OSError" in mro:
            clean = bool(rep.get("filename")) or os.sep in msg
        if not clean:
            return R("unclear error", f"{rep['type']}: {msg[:140]}")
        if not _names_ok(case, msg):
            return R("unclear error", f"message names none of {list(case.names)[:4]}: {rep['type']}: {msg[:120]}")
        return R("ok", "")
    # the CLI
    if "Traceback (most recent call last)" in (err or ""):
        return R("unclear error", "traceback: " + (err or "").strip().splitlines()[-1][:140])
    if rc == 0:
        if callable(case.check):
            r = case.check(d, rc, out, err)
            if r:
                return R(*r)
        if case.expect == "error":
            return R("silent wrong", "exit 0 (expected a refusal)")
        return R("ok", "")
    if rc is not None and rc > 128 + 0 and rc in (134, 139):
        return R("crash", f"exit {rc}")
    if case.signal_after and callable(case.check):
        r = case.check(d, rc, out, err)
        if r:
            return R(*r)
        return R("ok", "")
    if case.max_s and elapsed > case.max_s + 1.0:
        return R("hang", f"refused only after {elapsed:.1f} s")
    if case.expect == "ok":
        return R("silent wrong", f"exit {rc}: {(err or '').strip()[-140:]}")
    msg = (err or "") + out
    if not msg.strip():
        return R("unclear error", f"exit {rc} with no message")
    if len([ln for ln in (err or "").strip().splitlines() if ln.strip()]) > 3 and "usage:" not in err:
        return R("unclear error", f"a {len(err.splitlines())}-line message")
    if not _names_ok(case, msg):
        return R("unclear error", f"message names none of {list(case.names)[:4]}: {msg.strip()[-120:]}")
    return R("ok", "")


def measure_child(cmd, cwd, env, mem_gb, timeout):
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=_limits(mem_gb))
    t0 = time.time()
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            return p.returncode, ru.ru_maxrss / 1024, p.stderr.read().decode(errors="replace")
        if time.time() - t0 > timeout:
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            return None, None, "timeout"
        time.sleep(0.02)



def csv_memory(work, fixtures):
    d = os.path.join(work, "_csvmem")
    os.makedirs(d, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=HOME)
    small = os.path.join(d, "small.csv")
    big = os.path.join(d, "big.csv")
    with open(small, "w") as f:
        f.write("a,b,c,d,label\n" + "".join(f"{i % 11}.25,{i % 5}.5,{i % 13},{i % 17}.125,{i % 2}\n" for i in range(200)))
    with open(big, "w") as f:
        f.write("a,b,c,d,label\n")
        for k in range(12):
            f.write("".join(f"{(i * 7) % 11}.25,{(i * 3) % 5}.5,{i % 13},{(i * 31) % 17}.125,{i % 2}\n"
                            for i in range(k * 100000, (k + 1) * 100000)))
    size_mb = os.path.getsize(big) / 2**20
    base = [sys.executable, "-m", "fastmlp", "train", None, "--epochs", "1", "--quiet", "--hidden", "4", "--force",
            "--val", "0"]
    rc0, rss0, _ = measure_child([x if x else small for x in base] + ["--out", "s.npz"], d, env, 8, 60)
    rc1, rss1, err = measure_child([x if x else big for x in base] + ["--out", "b.npz"], d, env, 8, 180)
    if rc1 is None:
        return {"category": "hang", "reason": "train on a 25 MB CSV did not finish in 180 s"}
    if rc1 != 0:
        return {"category": "silent wrong", "reason": f"train on a plain big CSV failed: {err.strip()[-120:]}"}
    extra = rss1 - rss0
    if extra > 3 * size_mb:
        return {"category": "hang", "reason": f"runaway memory: CSV of {size_mb:.0f} MB took {extra:.0f} MB above "
                                              f"the baseline ({extra / size_mb:.1f}x; budget 3x)"}
    return {"category": "ok", "reason": f"{extra:.0f} MB for a {size_mb:.0f} MB CSV ({extra / size_mb:.1f}x)"}
