"""The table of outcomes per family, and the list of attacks that are not ok."""
from .case import CATEGORIES, FAMILIES


def report(results, seconds, quick):
    fams = [f for f in FAMILIES if any(r["family"] == f for r in results)]
    hdr = f"{'family':<10} {'attempts':>8} {'crashes':>8} {'silent wrong':>13} {'lost files':>11} {'hangs':>6} {'unclear errors':>15}"
    print(f"\nhostile-input campaign ({'quick' if quick else 'full'}): {len(results)} attacks in {seconds:.0f} s\n")
    print(hdr)
    print("-" * len(hdr))

    def row(name, rs):
        n = {c: sum(r["category"] == c for r in rs) for c in CATEGORIES}
        print(f"{name:<10} {len(rs):>8} {n['crash']:>8} {n['silent wrong']:>13} {n['lost file']:>11} {n['hang']:>6} "
              f"{n['unclear error']:>15}")

    for f in fams:
        row(f, [r for r in results if r["family"] == f])
    print("-" * len(hdr))
    row("total", results)
    bad = sorted((r for r in results if r["category"] != "ok"), key=lambda r: (FAMILIES.index(r["family"]), r["id"]))
    if bad:
        print(f"\nnot ok ({len(bad)}):")
        for r in bad:
            w = f"  [{r['item']}]" if r["item"] else ""
            print(f"  {r['category']:<13} {r['id']}: {r['reason']}{w}")
