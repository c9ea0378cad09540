"""Attacks on the command line: column matching, CSV parsing, bad options, special files, output aliasing,
--force, -h."""
import json
import os
import sys

from .case import HOME, Case, csv_writer


def build(b):
    cli = b.cli
    # ---- cli -------------------------------------------------------------------------------------------------
    def preds_equal_ref(d, rc, out, err):
        ref = open(os.path.join(d, "ref_pred.csv")).read()
        got = out if out.strip() else (open(os.path.join(d, "p.csv")).read() if os.path.exists(os.path.join(d, "p.csv")) else "")
        if rc == 0 and got.split() != ref.split():
            return ("silent wrong", "predictions differ from the same columns in the training order")
        return None

    def reorder(d):
        lines = open(os.path.join(d, "test.csv")).read().split()
        rows = [r.split(",") for r in lines]
        with open(os.path.join(d, "reordered.csv"), "w") as f:
            for r in rows:
                f.write(",".join([r[3], r[1], r[0], r[2]]) + "\n")
        with open(os.path.join(d, "missing.csv"), "w") as f:
            for r in rows:
                f.write(",".join(r[:3]) + "\n")
        with open(os.path.join(d, "extra.csv"), "w") as f:
            for i, r in enumerate(rows):
                f.write(",".join(r + (["zz"] if i == 0 else ["1"])) + "\n")
        with open(os.path.join(d, "renamed.csv"), "w") as f:
            for i, r in enumerate(rows):
                f.write(",".join(["a", "b", "c", "e"] if i == 0 else r) + "\n")

    cli("predict reordered columns", ["predict", "cli.npz", "reordered.csv"], expect="either", check=preds_equal_ref,
        setup=reorder, names=("column", "a", "d"), quick=True, item="cli: match columns by name")
    cli("predict reordered columns --out", ["predict", "cli.npz", "reordered.csv", "--out", "p.csv"], expect="either",
        check=preds_equal_ref, setup=reorder, names=("column",), item="cli: match columns by name")
    cli("predict missing column", ["predict", "cli.npz", "missing.csv"], setup=reorder, names=("d", "column", "missing"),
        quick=True, item="cli: match columns by name")
    cli("predict unknown extra column", ["predict", "cli.npz", "extra.csv"], setup=reorder, names=("zz", "column"),
        item="cli: match columns by name")
    cli("predict renamed column", ["predict", "cli.npz", "renamed.csv"], setup=reorder, names=("e", "d", "column"),
        item="cli: match columns by name")

    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 3}\n" for i in range(40))
    open_quote = "x,y,label\n" + rows[:60] + '1,2,"a\n' + "".join(f"{i},{i},b\n" for i in range(10)) + '3,4,c"\n' + rows
    cli("train CSV with a quote spanning rows", ["train", "q.csv", "--out", "q.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("q.csv", open_quote), names=("quote", "line", "row", "field", "column"), quick=True,
        item="cli: CSV parser")
    ok_quote = "x,y,label\n" + "".join(f'{i % 7},{(i * 3) % 5},"cl\nass{i % 2}"\n' for i in range(40))

    def quote_classes(d, rc, out, err):
        if rc != 0:
            return None
        import numpy as np
        sys.path.insert(0, HOME)
        import fastmlp
        meta = fastmlp.read_metadata(os.path.join(d, "q.npz"))
        cls = json.dumps(meta, default=str)
        if "cl\\nass0" not in cls:
            return ("silent wrong", f"quoted multi-line labels read as something else: {cls[:120]}")
        return None

    cli("train CSV with quoted multi-line labels", ["train", "q.csv", "--out", "q.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("q.csv", ok_quote), expect="either", check=quote_classes, names=("label", "quote", "line"),
        item="cli: CSV parser")
    for what, val, q in (("1_000", "1_000", True), ("Arabic-Indic digits", "\u0661\u0662", True), ("0x10", "0x10", False),
                         ("nan", "nan", False), ("inf", "inf", False), ("1e400", "1e400", False), ("full-width 5", "\uff15", False)):
        text = "x,y,label\n" + rows.replace("3,", f"{val},", 1)
        cli(f"train CSV value {what}", ["train", "v.csv", "--out", "v.npz", "--epochs", "1", "--quiet"],
            setup=csv_writer("v.csv", text), names=(val, "row", "line", "number", "value"), quick=q,
            item="cli: CSV parser")
    cli("train decimal-comma CSV", ["train", "dc.csv", "--out", "dc.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("dc.csv", "x;y;label\n" + "".join(f"{i},5;{i % 3},25;{i % 2}\n" for i in range(30))),
        expect="either", names=("decimal", "comma", "1,5", "0,5", ","), quick=True)
    for delim in ("ab", "", "\\n", '"'):
        cli(f"train --delimiter {delim!r}", ["train", "train.csv", "--delimiter", delim, "--out", "o.npz", "--quiet"],
            names=("--delimiter", "delimiter"), quick=delim == "ab")
    bad_opts = [("--seed", "-1"), ("--seed", str(2**70)), ("--epochs", "-1"), ("--epochs", "1e9"), ("--batch-size", "0"),
                ("--lr", "nan"), ("--lr", "inf"), ("--lr", "-1"), ("--val", "1.5"), ("--val", "nan"), ("--hidden", "0"),
                ("--hidden", "-5"), ("--hidden", ""), ("--hidden", "10,,10"), ("--hidden", "1e9"), ("--layers", "4,8,9"),
                ("--label", "nope"), ("--label", "99"), ("--label", "-99"), ("--weight-decay", "-1"), ("--drop", "zz"),
                ("--features", "a,zz")]
    for opt, val in bad_opts:
        quick_epochs = [] if opt == "--epochs" else ["--epochs", "1"]  # a later --epochs would override the attack
        cli(f"train {opt} {val}", ["train", "train.csv", opt, val, "--out", "o.npz", "--quiet"] + quick_epochs,
            expect="either" if val == "" else "error",
            names=(opt, opt.lstrip("-"), val or "empty"), quick=opt in ("--seed", "--hidden") and val in ("-1", "1e9", "10,,10"),
            max_s=10)
    cli("train --hidden 1000000000", ["train", "train.csv", "--hidden", "1000000000", "--out", "o.npz", "--quiet"],
        names=("--hidden", "hidden", "1000000000", "size", "parameters"), quick=True, max_s=10,
        item="library: size guard")
    cli("train --hidden 1000000000,1000000000", ["train", "train.csv", "--hidden", "1000000000,1000000000", "--out",
                                                "o.npz", "--quiet"], names=("--hidden", "hidden", "size", "parameters"),
        max_s=10, item="library: size guard")
    cli("train FIFO", ["train", "fifo.csv", "--out", "o.npz", "--quiet"], setup=lambda d: os.mkfifo(os.path.join(d, "fifo.csv")),
        names=("fifo.csv", "regular"), timeout=10, quick=True, item="cli: regular files only")
    cli("predict model FIFO", ["predict", "fifo.npz", "test.csv"], setup=lambda d: os.mkfifo(os.path.join(d, "fifo.npz")),
        names=("fifo.npz", "regular"), timeout=10, item="library: regular files only")
    cli("predict data FIFO", ["predict", "cli.npz", "fifo.csv"], setup=lambda d: os.mkfifo(os.path.join(d, "fifo.csv")),
        names=("fifo.csv", "regular"), timeout=10, item="cli: regular files only")
    cli("train /dev/zero", ["train", "/dev/zero", "--out", "o.npz", "--quiet"], names=("/dev/zero", "regular"),
        timeout=20, mem=2.0, quick=True, item="cli: regular files only")
    cli("train /dev/zero.csv link", ["train", "z.csv", "--out", "o.npz", "--quiet"],
        setup=lambda d: os.symlink("/dev/zero", os.path.join(d, "z.csv")), names=("z.csv", "/dev/zero", "regular"),
        timeout=20, mem=2.0, item="cli: regular files only")
    cli("train a directory", ["train", ".", "--out", "o.npz", "--quiet"], names=(".", "directory", "regular"))
    cli("train text file as .npz", ["train", "notes.npz", "--out", "o.npz", "--quiet"],
        setup=csv_writer("notes.npz", "some notes\n"), names=("notes.npz",), quick=True)
    # outputs that alias inputs
    alias = [("train data.npz --out data.npz", ["train", "data.npz", "--out", "data.npz"], True),
             ("train data.npz --out ./data.npz", ["train", "data.npz", "--out", "./data.npz"], False),
             ("train data.npz --out data (.npz appended)", ["train", "data.npz", "--out", "data"], True),
             ("train data.npz --out link to data", ["train", "data.npz", "--out", "ln.npz"], True),
             ("train data.npz --out hard link to data", ["train", "data.npz", "--out", "hl.npz"], False),
             ("train train.csv --out train.csv", ["train", "train.csv", "--out", "train.csv"], False),
             ("train data.npz --out data.npz --force", ["train", "data.npz", "--out", "data.npz", "--force"], True),
             ("predict --out data.csv", ["predict", "cli.npz", "test.csv", "--out", "test.csv"], True),
             ("predict --out the model", ["predict", "cli.npz", "test.csv", "--out", "cli.npz"], True),
             ("predict --out the model --force", ["predict", "cli.npz", "test.csv", "--out", "cli.npz", "--force"], False),
             ("predict --out link to data", ["predict", "cli.npz", "test.csv", "--out", "lt.csv", "--force"], True),
             ("predict --out ../<dir>/test.csv", ["predict", "cli.npz", "test.csv", "--out", "../{dir}/test.csv", "--force"], False),
             ("predict --out /proc/self/cwd/test.csv", ["predict", "cli.npz", "test.csv", "--out", "/proc/self/cwd/test.csv", "--force"], False)]

    def links(d):
        os.symlink("data.npz", os.path.join(d, "ln.npz"))
        os.link(os.path.join(d, "data.npz"), os.path.join(d, "hl.npz"))
        os.symlink("test.csv", os.path.join(d, "lt.csv"))

    for what, argv, q in alias:
        cli(what, argv + (["--epochs", "1", "--quiet"] if argv[0] == "train" else []), setup=links,
            expect="either" if what == "train train.csv --out train.csv" else "error",
            names=("--out", "input", "same", "data", "test.csv", "cli.npz"), quick=q, item="cli: output aliasing")
    cli("train --out existing without --force", ["train", "data.npz", "--out", "m.npz", "--epochs", "1", "--quiet"],
        names=("--force", "exists", "m.npz"), quick=True, item="cli: --force")
    cli("predict --out existing without --force", ["predict", "cli.npz", "test.csv", "--out", "old.csv"],
        names=("--force", "exists", "old.csv"), quick=True, item="cli: --force")

    def replaced(name):
        def chk(d, rc, out, err):
            if rc == 0 and open(os.path.join(d, name), "rb").read() == b"an existing output\n":
                return ("silent wrong", f"--force: {name} not replaced")
            return None
        return chk

    cli("predict --out existing --force", ["predict", "cli.npz", "test.csv", "--out", "old.csv", "--force"],
        expect="ok", mutable=("old.csv",), check=replaced("old.csv"))
    bigval = "a,b,c,d\n" + "0,0,0,0\n" * 30 + "1e300,0,0,0\n"
    cli("predict 1e300 value --out existing --force keeps the old file", ["predict", "cli.npz", "big.csv", "--out", "old.csv",
                                                                       "--force"],
        setup=csv_writer("big.csv", bigval), mutable=(), names=("1e300", "row", "range", "a", "float32"), quick=True,
        item="cli: 1e300 at predict")
    cli("predict 1e300 value", ["predict", "cli.npz", "big.csv"], setup=csv_writer("big.csv", bigval),
        names=("1e300", "row", "range", "a", "float32"), item="cli: 1e300 at predict")

    def bad_meta(d):
        import numpy as np
        p = os.path.join(d, "cli.npz")
        with np.load(p) as z:
            mem = {k: z[k] for k in z.files}
        mem["metadata"] = np.array('{"features": 7, "classes": "nope", "label": [], "loss": 3}')
        np.savez(os.path.join(d, "dm.npz"), **mem)

    cli("predict damaged cli_meta", ["predict", "dm.npz", "test.csv"], setup=bad_meta, names=("dm.npz", "metadata"),
        quick=True)
    cli("predict > /dev/full", ["predict", "cli.npz", "test.csv", "--out", "/dev/full", "--force"],
        names=("/dev/full", "space", "write"), quick=True)
    b.cases.append(Case(id="cli.predict stdout /dev/full", family="cli", argv=["predict", "cli.npz", "test.csv"],
                  expect="error", names=("space", "write", "output", "stdout"), stdin="DEVFULL", quick=True))
    cli("demo --plot unwritable checked before training", ["demo", "xor", "--quick", "--quiet", "--plot",
                                                           "/proc/no/such/dir"],
        names=("--plot", "/proc/no/such/dir"), max_s=6, timeout=60, quick=True, item="cli: check outputs first")
    cli("--version", ["--version"], expect="ok", quick=True, check=lambda d, rc, o, e: None if "fastmlp" in o + e
        else ("silent wrong", "no version printed"))
    for sub in ("bench", "info", "train", "predict", "demo"):
        def described(d, rc, o, e, sub=sub):
            lines = [ln for ln in o.splitlines() if ln.strip()]
            body = [ln for ln in lines if not ln.startswith(("usage", " ")) and ":" not in ln[:12]]
            return None if len(body) >= 1 else ("silent wrong", f"{sub} -h has no description")
        cli(f"{sub} -h has a description", [sub, "-h"], expect="ok", check=described, quick=sub in ("bench", "info"))

    def train_defaults(d, rc, o, e):
        miss = [opt for opt in ("--epochs", "--lr", "--batch-size") if "default" not in o.split(opt, 2)[-1][:300]]
        return ("silent wrong", f"train -h does not state defaults for {miss}") if miss else None

    cli("train -h documents defaults", ["train", "-h"], expect="ok", check=train_defaults, item="cli: defaults in -h")

    def int_labels(d, rc, o, e):
        if rc != 0:
            return None
        if "p_0.0" in o or (not o.startswith("p_") and any(ln.split(",")[-1].endswith(".0") for ln in o.split()[1:])):
            return ("silent wrong", "integer class labels come back as floats")
        return None

    cli("predict integer labels as ints", ["predict", "cli.npz", "test.csv"], expect="ok", check=int_labels, quick=True)
    cli("predict --proba header", ["predict", "cli.npz", "test.csv", "--proba"], expect="ok", check=int_labels)
    cli("train with --drop id", ["train", "id.csv", "--drop", "id", "--out", "o.npz", "--epochs", "1", "--quiet"],
        setup=csv_writer("id.csv", "id,x,label\n" + "".join(f"{1000 + i},{i % 5},{i % 2}\n" for i in range(40))),
        expect="ok", item="cli: --drop")

    def baseline(d, rc, o, e):
        if rc == 0 and "baseline" not in (o + e).lower() and "majority" not in (o + e).lower():
            return ("silent wrong", "a run below the trivial baseline exits 0 without a word")
        return None

    skew = "x,label\n" + "".join(f"{(i * 7919) % 13},{1 if i % 10 == 0 else 0}\n" for i in range(200))
    cli("train below the baseline says so", ["train", "s.csv", "--out", "o.npz", "--epochs", "1", "--lr", "1e-9",
                                             "--val", "0.5"],
        setup=csv_writer("s.csv", skew), expect="either", check=baseline, names=("baseline",), item="cli: baseline")
