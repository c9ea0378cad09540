"""The C API page, generated from ``csrc/fastmlp.h`` at build time so that it cannot drift from the header.

``.. c-header:: ../csrc/fastmlp.h`` parses the header into its parts, in order:

- the opening comment: the page's introduction;
- ``/* ---- title ---- */`` lines: sections;
- a comment directly above declarations (no blank line between): their description; a comment with a blank line
  after it: a paragraph of its own;
- ``FM_API`` prototypes: ``c:function`` (the declarations a comment describes share one entry, one signature each);
- ``#define FM_* / FASTMLP_*`` constants: ``c:macro`` (a trailing comment describes it);
- ``typedef enum {...} name;`` and ``typedef struct {...} name;``: ``c:enum`` / ``c:struct`` with their enumerators
  and members.

Comment text is shown as written: prose as plain text (never parsed as reStructuredText, so a ``*`` or ``_`` in a
formula cannot break the build), indented lines as preformatted blocks.
"""
import os
import re

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

SKIP_MACROS = {"FASTMLP_H", "FM_API"}
SECTION = re.compile(r"^-{2,}\s*(.*?)\s*-{2,}$")


class Item:
    """One part of the header: kind is intro, section, prose, function, macro, enum or struct."""

    def __init__(self, kind, name=None, text="", decl="", members=(), comment=""):
        self.kind, self.name, self.text, self.decl = kind, name, text, decl
        self.members = list(members)  # (declaration, comment) pairs of an enum or struct
        self.comment = comment  # what a macro or member's trailing comment says

    def __repr__(self):
        return f"Item({self.kind!r}, {self.name!r})"


def comment_text(raw):
    """The text of a ``/* ... */`` comment: the markers and each line's leading `` * `` removed."""
    body = raw.strip()[2:-2]
    lines = body.split("\n")
    out = []
    for i, line in enumerate(lines):
        s = line.rstrip()
        m = re.match(r"^\s*\*( ?)(.*)$", s) if i else None  # the first line's `*` is text (`*count = ...`)
        out.append(m.group(2) if m else s.strip())
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def _one_line(text):
    return re.sub(r"\s+", " ", text).strip()


def _members(body, kind):
    """(declaration, trailing comment) of each enumerator (kind "enum") or member ("struct") of a typedef's body."""
    out = []
    for line in body.split("\n"):
        m = re.match(r"^(.*?)(?:/\*(.*?)\*/)?\s*$", line.strip())
        code, what = m.group(1).strip(), (m.group(2) or "").strip()
        for part in code.split("," if kind == "enum" else ";"):
            if part.strip():
                out.append((part.strip(), what))
    return out


def parse_header(text):
    """The header's parts in order (``Item``); prototypes also in ``functions`` of the result's caller."""
    items = []
    pos, n = 0, len(text)
    pending = None  # (comment text, ended by a blank line?)
    token = re.compile(r"/\*.*?\*/|#[^\n]*(?:\\\n[^\n]*)*|typedef\s+(?:enum|struct)\s*\{.*?\}\s*\w+\s*;|"
                       r"FM_API\b[^;]*;|\n[ \t]*\n|[^\n]*\n?", re.S)
    first = True
    group = []  # items that share the pending comment

    def flush():
        nonlocal pending, group
        if pending is not None and not group:
            items.append(Item("prose", text=pending[0]))
        elif group:
            group[0].text = pending[0] if pending is not None else ""
            group[0].group = len(group)
            items.extend(group)
        pending, group = None, []

    while pos < n:
        m = token.match(text, pos)
        if m is None or m.end() == pos:
            break
        tok = m.group(0)
        pos = m.end()
        stripped = tok.strip()
        if tok.startswith("/*"):
            body = comment_text(tok)
            if first:
                items.append(Item("intro", text=body))
                first = False
                continue
            flush()
            sec = SECTION.match(_one_line(body))
            if sec:
                items.append(Item("section", name=sec.group(1).replace(" :", ":")))
                continue
            pending = (body, False)
        elif not stripped:
            if tok.count("\n") >= 2:  # a blank line ends a comment's group (or makes the comment a paragraph)
                flush()
        elif tok.startswith("#"):
            mdef = re.match(r"#define\s+(\w+)(?:\s+(.*?))?\s*(?:/\*(.*?)\*/)?\s*$", _one_line(tok))
            if mdef and mdef.group(1) not in SKIP_MACROS and mdef.group(2) is not None:
                item = Item("macro", name=mdef.group(1), decl=f"{mdef.group(1)}",
                            comment=(mdef.group(3) or "").strip())
                item.value = mdef.group(2).strip()
                group.append(item)
            elif not tok.startswith("#define") or (mdef and mdef.group(1) in SKIP_MACROS):
                if pending is not None and not group:
                    pending = None  # a comment about preprocessor plumbing (FM_API's definition)
        elif stripped.startswith("typedef"):
            mt = re.match(r"typedef\s+(enum|struct)\s*\{(.*)\}\s*(\w+)\s*;", stripped, re.S)
            group.append(Item(mt.group(1), name=mt.group(3), members=_members(mt.group(2), mt.group(1))))
        elif stripped.startswith("FM_API"):
            decl = _one_line(stripped[len("FM_API"):].rstrip(";"))
            name = re.search(r"(\w+)\s*\(", decl).group(1)
            group.append(Item("function", name=name, decl=decl))
        else:
            if stripped in ('extern "C" {', "}"):
                continue
            if pending is not None and not group:
                pending = None
    flush()
    return items


def exported_functions(text):
    """Names of every ``FM_API`` function the header declares."""
    return re.findall(r"^FM_API\b[^;(]*?\b(fm_\w+)\s*\(", text, re.M)


class CHeader(Directive):
    """``.. c-header:: path`` (relative to the document): the header as Sphinx C-domain entries."""

    required_arguments = 1
    has_content = False
    option_spec = {"title": directives.unchanged}

    def run(self):
        env = self.state.document.settings.env
        rel, path = env.relfn2path(self.arguments[0])
        env.note_dependency(rel)
        with open(path, encoding="utf-8") as f:
            items = parse_header(f.read())
        lines, texts = [], []

        def text_slot(text):
            texts.append(text)
            return f"FASTMLP-HEADER-TEXT-{len(texts) - 1}"

        def add(*rows):
            lines.extend(rows)

        if len(items) > 1 and items[0].kind == "intro" and items[1].kind != "section":
            items.insert(1, Item("section", name=self.options.get("title", "Status codes, version and threads")))
        i = 0
        while i < len(items):
            item = items[i]
            if item.kind == "intro":
                add(text_slot(item.text), "")
            elif item.kind == "prose":
                add(text_slot(item.text), "")
            elif item.kind == "section":
                title = item.name
                add(title, "-" * len(title), "")
            else:
                size = getattr(item, "group", 1)
                grp = items[i:i + size]
                i += size
                self._group(grp, add, text_slot)
                continue
            i += 1
        node = nodes.container(classes=["c-header"])
        nested_parse_with_titles(self.state, StringList(lines, source=path), node)
        for para in list(node.findall(nodes.paragraph)):
            m = re.fullmatch(r"FASTMLP-HEADER-TEXT-(\d+)", para.astext())
            if m:
                para.replace_self(text_nodes(texts[int(m.group(1))]))
        return node.children

    @staticmethod
    def _group(grp, add, text_slot):
        """One comment's declarations: functions in one entry (a signature each), macros and types each their own."""
        comment = grp[0].text
        funcs = [g for g in grp if g.kind == "function"]
        # the group's comment goes with its functions, else with its one declaration, else before them all
        if comment and not funcs and len(grp) > 1:
            add(text_slot(comment), "")
            comment = ""
        for g in grp:
            if g.kind == "macro":
                add(f".. c:macro:: {g.name}", "")
                body = [f"``{g.name}`` = ``{g.value}``" if "`" not in g.value else g.value]
                add("   " + body[0], "")
                if g.comment:
                    add("   " + text_slot(g.comment), "")
                if comment and len(grp) == 1:
                    add("   " + text_slot(comment), "")
            elif g.kind in ("enum", "struct"):
                add(f".. c:{g.kind}:: {g.name}", "")
                if comment and len(grp) == 1:
                    add("   " + text_slot(comment), "")
                for decl, what in g.members:
                    directive = "c:enumerator" if g.kind == "enum" else "c:member"
                    if g.kind == "struct":
                        m = re.match(r"^(.*?)(\w+(?:\[[^\]]*\])?)((?:\s*,\s*\w+(?:\[[^\]]*\])?)*)$", decl)
                        ctype, first, more = m.group(1).strip(), m.group(2), m.group(3)
                        names = [first] + [x.strip() for x in more.split(",") if x.strip()]
                        for nm in names:
                            add(f"   .. {directive}:: {ctype} {nm}", "")
                            if what:
                                add("      " + text_slot(what), "")
                    else:
                        add(f"   .. {directive}:: {decl}", "")
                        if what:
                            add("      " + text_slot(what), "")
        if funcs:
            add(f".. c:function:: {funcs[0].decl}")
            for f in funcs[1:]:
                add(f"                {f.decl}")
            add("")
            if comment:
                add("   " + text_slot(comment), "")


def text_nodes(text):
    """A comment as docutils nodes, never parsed as markup: plain paragraphs, indented lines preformatted."""
    out = []
    para, block = [], []

    def end_para():
        if para:
            out.append(nodes.paragraph("", " ".join(s.strip() for s in para)))
            para.clear()

    def end_block():
        if block:
            pre = nodes.literal_block("", "\n".join(block), classes=["c-header-text"])
            pre["language"] = "text"  # shown as written, never lexed
            out.append(pre)
            block.clear()

    for line in text.split("\n"):
        if not line.strip():
            end_para()
            end_block()
        elif line.startswith("  ") or re.match(r"^\s*\d\.\s", line):
            end_para()
            block.append(line)
        else:
            end_block()
            para.append(line)
    end_para()
    end_block()
    return out


def setup(app):
    app.add_directive("c-header", CHeader)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
