"""The C API page's parser (docs/_ext/c_header.py) against csrc/fastmlp.h, without building the site: every exported
function, type and constant becomes an entry, and each comment stays with the declarations it describes (the full
build and the rendered page: tests/test_docs.py, slow)."""
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "csrc", "fastmlp.h")

pytest.importorskip("sphinx", reason="the docs extra (sphinx) is not installed")


def _parser():
    spec = importlib.util.spec_from_file_location("c_header", os.path.join(ROOT, "docs", "_ext", "c_header.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def parsed():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    c_header = _parser()
    return text, c_header.parse_header(text), c_header


def test_every_exported_function_is_an_entry(parsed):
    text, items, c_header = parsed
    exported = re.findall(r"^FM_API\b[^;(]*?\b(fm_\w+)\s*\(", text, re.M)
    assert len(exported) > 50
    assert c_header.exported_functions(text) == exported
    functions = [i.name for i in items if i.kind == "function"]
    assert functions == exported  # all of them, once each, in the header's order


def test_types_constants_and_sections(parsed):
    text, items, _ = parsed
    by_kind = {}
    for i in items:
        by_kind.setdefault(i.kind, []).append(i)
    assert {i.name for i in by_kind["enum"]} == {"fm_act", "fm_loss", "fm_opt_kind"}
    assert {i.name for i in by_kind["struct"]} == {"fm_mlp", "fm_optim"}
    macros = {i.name for i in by_kind["macro"]}
    assert {"FASTMLP_VERSION", "FM_OK", "FM_EDIVERGED", "FM_MAX_THREADS", "FM_MAX_LAYERS", "FM_MAX_PARAMS"} <= macros
    assert "FM_API" not in macros and "FASTMLP_H" not in macros  # plumbing, not API
    assert [m for m in re.findall(r"#define\s+(FM_E\w+)", text)] == \
        [i.name for i in by_kind["macro"] if i.name.startswith("FM_E")]
    optim = next(i for i in by_kind["struct"] if i.name == "fm_optim")
    assert [d for d, _ in optim.members][:2] == ["fm_opt_kind kind", "double lr, momentum, weight_decay, l1"]
    # the header's section banners, in the header's order
    banners = [b.replace(" : ", ": ") for b in re.findall(r"^/\* -+ (.+?) -+ \*/$", text, flags=re.M)]
    sections = [i.name for i in by_kind["section"]]
    assert sections[0] == "dense.c: one fully connected layer"
    assert {"dense.c (sparse.inc): a first layer on sparse (CSR) input",
            "bf16.c: bfloat16 weights, float32 accumulation"} <= set(sections)
    if banners:
        assert sections == banners[:len(sections)]


def test_comments_stay_with_their_declarations(parsed):
    _, items, _ = parsed
    first = {i.name: i for i in items if i.kind == "function" and hasattr(i, "group")}
    # a comment describes the declarations right below it: the f32/f64 pair shares it
    assert first["fm_dense_forward_f32"].group == 2
    assert first["fm_dense_forward_f32"].text.startswith("p[n][n_out] = act(x[n][n_in] . W[n_out][n_in]^T")
    assert first["fm_dense_packed_size"].text.startswith("*count = length of the packed layout")  # the `*` kept
    # a comment followed by a blank line is a paragraph of its own
    prose = [i.text for i in items if i.kind == "prose"]
    assert any(p.startswith("Sample weights: every loss takes sw[n]") for p in prose)
    assert items[0].kind == "intro" and items[0].text.startswith("fastmlp.h -- the public C API")
