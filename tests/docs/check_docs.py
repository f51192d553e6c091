#!/usr/bin/env python3
"""check_docs.py SOURCE_ROOT [DOC...]: checks that the files and symbols a document names exist.

Meant to run as a meson test with protocol 'tap'. DOC paths are relative to SOURCE_ROOT (default:
docs/implementing-new-syscall.md). Output is TAP: "1..N", then one "ok K - TOKEN" or
"not ok K - TOKEN (missing)" per distinct token of each document. The exit status is 0 whatever
the result (meson reads the TAP lines); only the checks decide.

What is checked, in `inline code spans` (fenced code blocks are read for symbols only):

* Repository paths: a word (spans are split on whitespace) that contains '/' or ends in a known
  extension (.cpp .h .def .py .sh .map .md .build ...), and does not start with '/', '-' or '.'.
  - A path with '/' must exist relative to SOURCE_ROOT ('dir/' must be a directory). A bare file
    name ("libos_table.h") must exist somewhere in the source tree.
  - Placeholders <...> and '*' are wildcards: `table/sys/libos_<family>.cpp` must match at least
    one file. `<sys/syscall.h>` (a whole word in angle brackets) is a system header, not checked.
  - `build/D/F` is generated: it passes when D/meson.build exists and names F (or F without its
    'lib' prefix and '.so'/'.a' suffix) as a quoted string, e.g. build/pal/libpal.so and
    shared_library('pal', ...). `build/` itself is the build directory.
  - A word that is not a file but a meson test name ('conformance/native' in tests/meson.build,
    or 'unit/' + name over a dict of names) passes as a test name.
* Project symbols: identifiers beginning with libos_syscall_, Pal (then a capital), libos::,
  LIBOS_, SHIM_, PAL_, shim::, conformance:: or libos_test::. Each must occur as a whole word in
  some file under pal/ table/ shim/ tests/ scripts/ (this checker excluded). A <placeholder> or
  '*' in a symbol matches any identifier characters. For a qualified name ns::x::y, a file that
  contains the whole name, or "namespace ns" together with the word y, counts.
"""
import fnmatch
import os
import re
import sys

DEFAULT_DOCS = ["docs/implementing-new-syscall.md"]
PATH_EXTENSIONS = (".cpp", ".cc", ".c", ".h", ".hpp", ".def", ".py", ".sh", ".map", ".md", ".build",
                   ".txt", ".json", ".ld", ".S")
SYMBOL_DIRS = ("pal", "table", "shim", "tests", "scripts")
SYMBOL_PREFIXES = ("libos_syscall_", "Pal", "libos::", "LIBOS_", "SHIM_", "PAL_", "shim::",
                   "conformance::", "libos_test::")
SELF = os.path.realpath(__file__)

# An identifier that may contain <placeholders> or '*'.
_IDENT_CHAR = r"(?:[A-Za-z0-9_]|<[a-z_]+>|\*)"
SYMBOL_RE = re.compile(
    r"(?<![A-Za-z0-9_:<])("
    r"(?:libos_syscall_|LIBOS_|SHIM_|PAL_)" + _IDENT_CHAR + r"+"
    r"|Pal(?:[A-Z]|<[a-z_]+>|\*)" + _IDENT_CHAR + r"*"
    r"|(?:libos|shim|conformance|libos_test)::(?:[A-Za-z_]|<[a-z_]+>)" + _IDENT_CHAR + r"*"
    r"(?:::(?:[A-Za-z_]|<[a-z_]+>)" + _IDENT_CHAR + r"*)*"
    r")")
PLACEHOLDER_RE = re.compile(r"<[a-z_]+>")
PATH_WORD_RE = re.compile(r"^[A-Za-z0-9_<][A-Za-z0-9_.<>*+\-/]*$")


# ---- reading the document --------------------------------------------------------------------

def code_spans(text):
    """Returns (inline spans, fenced block bodies) of a Markdown text."""
    inline, fenced = [], []
    block = None
    prose = []
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```") or stripped.startswith("~~~"):
            if block is None:
                block = []
            else:
                fenced.append("\n".join(block))
                block = None
            continue
        if block is not None:
            block.append(line)
        else:
            prose.append(line)
    # Inline spans may wrap lines; a run of N backticks closes at the next run of N.
    body = "\n".join(prose)
    for m in re.finditer(r"(`+)(.+?)(?<!`)\1(?!`)", body, re.S):
        inline.append(m.group(2).strip())
    return inline, fenced


def path_words(span):
    words = []
    for word in span.split():
        word = word.strip("\"'(),;:")
        if not word or not PATH_WORD_RE.match(word):
            continue
        if word.startswith("<") and word.endswith(">") and word.count("<") == 1:
            continue  # <sys/syscall.h>: a system header
        if "/" in word or word.endswith(PATH_EXTENSIONS):
            words.append(word)
    return words


GTEST_RE = re.compile(r"^([A-Z][A-Za-z0-9_]*)\.([A-Z][A-Za-z0-9_]*)$")


def gtest_names(span):
    """`Suite.Name`: a GoogleTest case named as a whole span."""
    m = GTEST_RE.match(span)
    return [m.group(0)] if m else []


def symbols(text):
    return [m.group(1) for m in SYMBOL_RE.finditer(text)]


# ---- the source tree ---------------------------------------------------------------------------

class Tree:
    def __init__(self, root):
        self.root = root
        self.files = []  # relative paths, build directories excluded
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and not self._is_build_dir(os.path.join(dirpath, d))]
            for name in filenames:
                self.files.append(os.path.relpath(os.path.join(dirpath, name), root))
        self._texts = {}

    @staticmethod
    def _is_build_dir(path):
        return os.path.exists(os.path.join(path, "build.ninja")) or os.path.isdir(os.path.join(path, "meson-private"))

    def text(self, rel):
        if rel not in self._texts:
            try:
                with open(os.path.join(self.root, rel), encoding="utf-8", errors="replace") as f:
                    self._texts[rel] = f.read()
            except OSError:
                self._texts[rel] = ""
        return self._texts[rel]

    def symbol_files(self):
        for rel in self.files:
            if rel.split(os.sep, 1)[0] in SYMBOL_DIRS and os.path.realpath(os.path.join(self.root, rel)) != SELF:
                yield rel

    def meson_test_names(self):
        names = set()
        for rel in self.files:
            if os.path.basename(rel) != "meson.build":
                continue
            text = self.text(rel)
            names.update(re.findall(r"\btest\(\s*'([^']+)'\s*,", text))
            prefixes = re.findall(r"\btest\(\s*'([^']+)'\s*\+\s*\w+", text)
            keys = re.findall(r"^\s*'([\w-]+)'\s*:\s*\[", text, re.M)
            names.update(p + k for p in prefixes for k in keys)
        return names


def glob_of(token):
    return PLACEHOLDER_RE.sub("*", token)


def check_path(tree, token):
    """Returns (ok, note)."""
    path = token.rstrip("/")
    is_dir = token.endswith("/")
    if path == "build":
        return True, "build directory"
    if path.startswith("build/"):
        rest = path[len("build/"):]
        src_dir, _, output = rest.rpartition("/")
        meson = os.path.join(src_dir, "meson.build") if src_dir else "meson.build"
        text = tree.text(meson)
        stem = re.sub(r"\.(so|a)$", "", re.sub(r"^lib", "", output))
        if text and (f"'{output}'" in text or f"'{stem}'" in text):
            return True, f"generated by {meson}"
        return False, "missing: no meson.build generates it"
    pattern = glob_of(path)
    if "/" in token:
        if is_dir:
            dirs = {os.path.dirname(f) for f in tree.files}
            dirs |= {d for f in list(dirs) for d in _parents(f)}
            found = any(fnmatch.fnmatchcase(d, pattern) for d in dirs)
        else:
            found = any(fnmatch.fnmatchcase(f, pattern) for f in tree.files)
    else:
        found = any(fnmatch.fnmatchcase(os.path.basename(f), pattern) for f in tree.files)
    if found:
        return True, ""
    if token in tree.meson_test_names():
        return True, "meson test name"
    return False, "missing"


def _parents(path):
    while path:
        path = os.path.dirname(path)
        if path:
            yield path


def check_gtest(tree, token):
    suite, name = token.split(".")
    rx = re.compile(r"\bTEST(?:_F|_P)?\(\s*" + re.escape(suite) + r"\s*,\s*" + re.escape(name) + r"\s*\)")
    found = any(rel.startswith("tests" + os.sep) and rx.search(tree.text(rel)) for rel in tree.files)
    return found, "GoogleTest case" if found else "missing: no such TEST"


def check_symbol(tree, token):
    parts = token.split("::")
    def rx(s):
        return re.escape(glob_of(s)).replace(r"\*", r"[A-Za-z0-9_]*")
    whole = re.compile(r"(?<![A-Za-z0-9_])" + rx(token) + r"(?![A-Za-z0-9_])")
    last = re.compile(r"(?<![A-Za-z0-9_])" + rx(parts[-1]) + r"(?![A-Za-z0-9_])") if len(parts) > 1 else None
    ns = re.compile(r"\bnamespace\s+" + re.escape(parts[0]) + r"\b") if len(parts) > 1 else None
    for rel in tree.symbol_files():
        text = tree.text(rel)
        if whole.search(text):
            return True, ""
        if last and ns.search(text) and last.search(text):
            return True, ""
    return False, "missing"


def main(argv):
    if len(argv) < 2:
        print("usage: check_docs.py SOURCE_ROOT [DOC...]", file=sys.stderr)
        print("1..1\nnot ok 1 - usage: check_docs.py SOURCE_ROOT [DOC...]")
        return 0
    root = argv[1]
    docs = argv[2:] or DEFAULT_DOCS
    if not os.path.isdir(root):
        print(f"1..1\nnot ok 1 - {root} (missing source root)")
        return 0
    tree = Tree(root)
    results = []  # (doc, token, ok, note)
    for doc in docs:
        full = doc if os.path.isabs(doc) else os.path.join(root, doc)
        try:
            with open(full, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            results.append((doc, doc, False, "missing document"))
            continue
        seen = set()

        def add(kind, token, check):
            if (kind, token) not in seen:
                seen.add((kind, token))
                ok, note = check(tree, token)
                results.append((doc, token, ok, note))

        inline, fenced = code_spans(text)
        for span in inline:
            for word in path_words(span):
                add("path", word, check_path)
        for span in inline + fenced:
            tests = gtest_names(span) if span in inline else []
            for test in tests:
                add("gtest", test, check_gtest)
            if not tests:
                for sym in symbols(span):
                    add("symbol", sym, check_symbol)
    print(f"1..{len(results)}")
    current = None
    for k, (doc, token, ok, note) in enumerate(results, 1):
        if doc != current:
            print(f"# {doc}")
            current = doc
        if ok:
            print(f"ok {k} - {token}" + (f" ({note})" if note else ""))
        else:
            print(f"not ok {k} - {token} ({note or 'missing'})")
    failed = sum(1 for r in results if not r[2])
    print(f"# {len(results) - failed} ok, {failed} not ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
