"""Mutations of the shipped configs and rule packs, and the check that judges each one.

Used by the property-based test (tests/test_input_fuzz.py, a few hundred inputs) and by the
campaign in bench/fuzz_inputs.py (thousands). A mutation changes one place of one file — a key
typo, a type swap, a structure change, a merge key, a tag, a control character, deep nesting, an
alias bomb, a huge number, a key that looks like a pydantic tag, a byte that is not UTF-8 — and
says which lines an error about it may rightly point at. ``yuqingd check`` must then exit 0 or
78, print no traceback, and when it rejects the input name at least one of those lines.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (file to mutate, config that checks it), relative to the laid-out copy of the repository.
TARGETS = (
    ("etc/demo/yuqingd.yaml", "etc/demo/yuqingd.yaml"),
    ("etc/yuqingd.yaml", "etc/yuqingd.yaml"),
    ("rules/demo.yaml", "etc/demo/yuqingd.yaml"),
    ("rules/education-bureau.yaml", "etc/yuqingd.yaml"),
)

KINDS = ("key_typo", "value_typo", "type_swap", "structure", "merge_equivalent", "merge_bad",
         "tag", "control", "deep", "bomb", "huge_number", "tag_like_key", "not_utf8")


def lay_out(folder: Path) -> Path:
    """Copy the shipped configs and packs into ``folder`` so they check there as they are (the
    production config's absolute rule paths become the copies; its local pack is empty)."""
    for name in ("etc/demo/yuqingd.yaml", "etc/demo/stream.jsonl", "rules/demo.yaml",
                 "rules/education-bureau.yaml"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, folder / name)
    text = (REPO / "etc/yuqingd.yaml").read_text(encoding="utf-8")
    text = text.replace("/usr/share/yuqingd/rules/", "../rules/").replace(
        "/etc/yuqingd/rules/local.yaml", "../rules/local.yaml")
    (folder / "etc/yuqingd.yaml").write_text(text, encoding="utf-8")
    (folder / "rules/local.yaml").write_text("{}\n", encoding="utf-8")
    return folder


@dataclass
class Mutant:
    kind: str
    path: str  # relative, the file changed
    data: bytes
    lines: set[int]  # 1-based lines of `path` an error may point at
    refs: tuple[str, ...] = ()  # words whose other occurrences (any file) may be pointed at
    must_accept: bool = False  # an equivalent rewrite: the original is valid, so must this be
    note: str = ""


_KEY = re.compile(r"^(?P<lead>\s*(?:- )?)(?P<key>[^\s#:{}\[\]'\",&*!|>%@`-][^:#]*?)"
                  r":(?P<rest>\s.*|)$")


def _content_lines(lines: list[str]) -> list[int]:
    return [i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")]


def _strip_comment(value: str) -> str:
    return re.sub(r"\s+#.*$", "", value).strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _ancestors(lines: list[str], index: int) -> set[int]:
    """0-based lines above ``index`` that open the mappings/lists containing it."""
    out: set[int] = set()
    line = lines[index]
    current = _indent(line)
    stripped = line.lstrip(" ")
    if stripped.startswith("- "):
        out.add(index)
    for j in range(index - 1, -1, -1):
        text = lines[j]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        indent = _indent(text)
        body = text.lstrip(" ")
        if indent < current or (indent == current and body.startswith("- ")
                                and not stripped.startswith("- ")):
            out.add(j)
            current = indent
            # "- key: v": the item's keys sit at indent+2; the dash itself opens the item.
        if current == 0:
            break
    return out


def _next_content(lines: list[str], index: int) -> int | None:
    for j in range(index + 1, len(lines)):
        if lines[j].strip() and not lines[j].lstrip().startswith("#"):
            return j
    return None


def mutate(text: str, path: str, kind: str, rnd: random.Random) -> Mutant:
    """One mutation of ``kind`` at a place ``rnd`` picks."""
    lines = text.split("\n")
    content = _content_lines(lines)
    keyed = [i for i in content if _KEY.match(lines[i])]
    valued = [i for i in keyed if _strip_comment(_KEY.match(lines[i])["rest"])]
    i = rnd.choice(valued if kind in ("type_swap", "tag", "deep", "huge_number", "value_typo",
                                      "merge_equivalent") and valued else
                   keyed if kind in ("key_typo", "tag_like_key", "merge_bad") and keyed
                   else content)
    line = lines[i]
    near = {i, *_ancestors(lines, i)}
    nxt = _next_content(lines, i)
    if nxt is not None:
        near.add(nxt)
    refs: tuple[str, ...] = ()
    m = _KEY.match(line)
    must_accept = False
    note = ""
    data: bytes | None = None
    if kind == "key_typo" and m:
        key = m["key"]
        lines[i] = m["lead"] + _typo(key, rnd) + ":" + m["rest"]
        refs = (key,)
    elif kind == "value_typo" and m:
        value = _strip_comment(m["rest"])
        words = re.findall(r"[^\s,\[\]{}:'\"#]+", value)
        word = rnd.choice(words) if words else value
        lines[i] = m["lead"] + m["key"] + ":" + m["rest"].replace(word, _typo(word, rnd), 1)
        refs = (word, m["key"])
    elif kind == "type_swap" and m:
        swap = rnd.choice(["[]", "{}", "[a, b]", "{a: 1}", "1", "-1", "0", "true", "null",
                           '"x"', "1.5", "~", "''", "[[1]]", "- x"])
        lines[i] = f"{m['lead']}{m['key']}: {swap}"
        refs = (m["key"], *_words(m["rest"]))  # a name swapped away is missed where it is used
    elif kind == "structure":
        how = rnd.choice(["indent", "dedent", "delete", "duplicate", "swap"])
        note = how
        after = _next_content(lines, nxt) if nxt is not None else None
        if after is not None:  # a moved line re-parents the lines after it
            near.add(after)
        if how == "indent":
            lines[i] = "  " + line
        elif how == "dedent":
            lines[i] = line[2:] if line.startswith("  ") else line
        elif how == "delete":
            del lines[i]
            near |= {max(i - 1, 0)}
        elif how == "duplicate":
            lines.insert(i + 1, line)
            near |= {i + 1}
            if nxt is not None:
                near.add(nxt + 1)
        elif nxt is not None:
            lines[i], lines[nxt] = lines[nxt], lines[i]
        words = re.findall(r"[^\s,\[\]{}:'\"#-]+", line)
        refs = tuple(words[:3])
    elif kind == "merge_equivalent" and m and _simple(_strip_comment(m["rest"])):
        # `key: value` → `<<: {key: value}`: the same document, so the same verdict.
        value = _strip_comment(m["rest"])
        lead = m["lead"]
        lines[i] = f"{lead}<<: {{{m['key']}: {value}}}"
        must_accept = True
    elif kind in ("merge_equivalent", "merge_bad") and m:
        bad = rnd.choice(["*nowhere", "[1, 2]", "just text", "[*nowhere]"])
        lead = m["lead"]
        lines.insert(i, f"{lead}<<: {bad}")
        if lead.endswith("- "):  # the item's first key moves under the merge key
            lines[i + 1] = " " * len(lead) + line[len(lead):]
        near = {i}
    elif kind == "tag" and m:
        tag = rnd.choice(["!custom", "!!python/object/apply:os.system", "!!binary", "!!set",
                          "!include", "!!omap", "!Ref"])
        lines[i] = f"{m['lead']}{m['key']}: {tag} {m['rest'].strip()}"
        near = {i}
    elif kind == "control":
        char = chr(rnd.choice([0, 1, 7, 8, 0x0B, 0x0C, 0x1B, 0x7F, 0xFFFE, 0x9F]))
        col = rnd.randrange(len(line) + 1)
        lines[i] = line[:col] + char + line[col:]
        near = {i}
    elif kind == "deep" and m:
        depth = rnd.choice([65, 100, 1000, 10_000])
        opener = rnd.choice(["[", "{a: "])
        closer = "]" if opener == "[" else "}"
        lines[i] = f"{m['lead']}{m['key']}: {opener * depth}1{closer * depth}"
        near = {i}
    elif kind == "bomb":
        # as the value of a key of a mapping (not a list item), or as new keys at the end
        at = "value" if m and "-" not in m["lead"] and rnd.random() < 0.5 else "end"
        which = rnd.choice(["laughs", "recursive_list", "recursive_map", "wide"])
        block = _bomb(which)
        if at == "end":
            start = len(lines) - 1 if lines[-1] == "" else len(lines)
            if lines[-1] == "":
                lines[-1:] = [*block, ""]
            else:
                lines += block
            near = set(range(start, start + len(block)))
        else:
            assert m is not None
            pad = " " * len(m["lead"])
            lines[i] = f"{m['lead']}{m['key']}: {block[-1].split(': ', 1)[1]}"
            lines[i:i] = [f"{pad}x-{n}" for n in block[:-1]]
            # the anchors become keys of this mapping beside the value that uses them; a key
            # that opened a block now has a flow value, so its old children fail on the next line
            near = set(range(i, i + len(block) + 1))
        note = which
    elif kind == "huge_number" and m:
        number = rnd.choice(["1" + "0" * 19, "1" + "0" * 30, "9" * 400, "9" * 5000, "-" + "9" * 25,
                             "1.0e308", "1.0e999", ".inf", "-.inf", ".nan", "-1",
                             "999999999999999d", "3651d", "1e400s", "0", "-0.5"])
        lines[i] = f"{m['lead']}{m['key']}: {number}"
        refs = (m["key"], *_words(m["rest"]))
    elif kind == "tag_like_key" and m:
        key = m["key"]
        new = rnd.choice([key[:1] + "[" + key[1:], "union" + key, key + "[0]",
                          f"function-after[{key}]", "union[" + key + "]"])
        lines[i] = m["lead"] + new + ":" + m["rest"]
        refs = (key,)
    elif kind == "not_utf8":
        raw = [s.encode("utf-8") for s in lines]
        col = rnd.randrange(len(raw[i]) + 1)
        bad = rnd.choice([b"\xff", b"\xc3(", b"\xe9", b"\xed\xa0\x80", b"\x80"])
        raw[i] = raw[i][:col] + bad + raw[i][col:]
        data = b"\n".join(raw)
        near = {i}
    else:  # nothing of this kind fits the line: a control character will do
        return mutate(text, path, "control", rnd)
    if data is None:
        data = "\n".join(lines).encode("utf-8")
    return Mutant(kind, path, data, {n + 1 for n in near}, refs, must_accept, note)


def _words(value: str) -> list[str]:
    return re.findall(r"[^\s,\[\]{}:'\"#]+", _strip_comment(value))[:3]


def _simple(value: str) -> bool:
    if not value:
        return False
    if value[0] in "[{":  # a flow collection, if it closes on this line
        opened = value.count("[") + value.count("{")
        return value[-1] in "]}" and opened == value.count("]") + value.count("}")
    return not any(c in value for c in ",[]{}#&*!|>'\"%@`") and not value.startswith("-")


def _typo(word: str, rnd: random.Random) -> str:
    if not word:
        return "x"
    pos = rnd.randrange(len(word))
    how = rnd.choice(["drop", "double", "swap", "insert"])
    if how == "drop" and len(word) > 1:
        return word[:pos] + word[pos + 1:]
    if how == "swap" and pos + 1 < len(word):
        return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2:]
    if how == "insert":
        return word[:pos] + rnd.choice("xqz_") + word[pos:]
    return word[:pos] + word[pos] + word[pos:]


def _bomb(which: str) -> list[str]:
    if which == "recursive_list":
        return ["x-loop: &r [*r]"]
    if which == "recursive_map":
        return ["x-loop: &r {again: *r}"]
    if which == "wide":
        return ["x-a: &a [" + ", ".join(["lol"] * 500) + "]",
                "x-b: &b [" + ", ".join(["*a"] * 500) + "]",
                "x-c: [" + ", ".join(["*b"] * 500) + "]"]
    names = "abcdefghij"
    out = [f"x-a: &a [{', '.join(['lol'] * 9)}]"]
    for prev, name in zip(names, names[1:], strict=False):
        out.append(f"x-{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return out


# judging ------------------------------------------------------------------------------------

_LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.*)$")


@dataclass
class Verdict:
    code: int | None  # exit status; None when an exception escaped
    stderr: str
    seconds: float
    traceback: str = ""
    located: list[tuple[str, int]] = field(default_factory=list)  # (file, line) of each error


def check(folder: Path, config: str, run_check: Callable[[list[str]], int]) -> Verdict:
    """Run ``yuqingd check`` in this process on ``folder/config``; never raises."""
    err = io.StringIO()
    started = time.monotonic()
    tb = ""
    code: int | None
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = run_check(["check", "--config", str(folder / config)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - anything escaping is the finding
        code = None
        tb = traceback.format_exc()
    seconds = time.monotonic() - started
    text = err.getvalue()
    if "Traceback (most recent call last)" in text:
        tb = tb or text
    located = []
    for line in text.splitlines():
        m = _LOCATED.match(line)
        if m:
            located.append((str(Path(m["file"]).resolve()), int(m["line"])))
    return Verdict(code, text, seconds, tb, located)


def problems(mutant: Mutant, verdict: Verdict, folder: Path) -> list[str]:
    """What is wrong with how ``check`` answered ``mutant`` (empty: nothing)."""
    out = []
    if verdict.traceback:
        out.append("traceback:\n" + verdict.traceback)
    elif verdict.code not in (0, 78):
        out.append(f"exit status {verdict.code}")
    if mutant.must_accept and verdict.code != 0:
        out.append("an equivalent rewrite was rejected")
    if verdict.code == 78 and not _rightly_located(mutant, verdict, folder):
        out.append("no error at the mutated line")
    return out


def _rightly_located(mutant: Mutant, verdict: Verdict, folder: Path) -> bool:
    target = str((folder / mutant.path).resolve())
    good = {(target, n) for n in mutant.lines}
    words = [w for w in mutant.refs if len(w) >= 2]
    if words:
        for path in folder.rglob("*.yaml"):
            try:
                # the mutated file as it was checked (a deleted line shifts the others)
                data = mutant.data if str(path.resolve()) == target else path.read_bytes()
                text = data.decode("utf-8", "replace")
            except OSError:
                continue
            for number, line in enumerate(text.split("\n"), start=1):
                if any(w in line for w in words):
                    good.add((str(path.resolve()), number))
    return any(place in good for place in verdict.located)
