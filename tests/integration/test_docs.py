"""The code in the documentation compiles, and the programs run and print what the docs show.

Every fenced block in README.md and docs/**/*.md whose language is c (or cpp/c++) is extracted
and compiled against the build's headers and libskylog, as a user would build it
(`cc app.c $(pkg-config --cflags --libs skylog)`, with -Wall -Wextra -Werror). A new doc needs no
registration here: its blocks are checked as soon as it is merged.

The info string after the language says what a block is (GitHub shows only the language):

    ```c              a program if it defines main(), else a fragment (below)
    ```c fragment     statements: compiled inside a function body, with <errno.h>, <stdio.h>,
                      <stdlib.h>, <string.h> and every skylog header included, and a variable
                      `sky_t *sky` in scope (a fragment may declare its own). Its own #include
                      lines are moved to file scope. Compiled, not run.
    ```c norun        a program that is compiled but not run (it needs the network, a server,
                      arguments, or runs forever)
    ```c nocompile    not code that compiles (a signature, pseudo-code); avoid

A program is compiled as app.c (the name the README uses) and run in an empty temporary
directory with no SKYLOG_*/AWS_* variables, no AWS config files and no network: it must exit 0.
A block whose info string is `json output` right after a program is what the program prints:
each of its JSON lines must equal a line of the program's output, except for "timestamp".
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
SRC = os.environ.get("SKYLOG_SOURCE_DIR", "")
SANITIZE = os.environ.get("SKYLOG_SANITIZE", "")

LANGS = {"c": "c", "cpp": "c++", "c++": "c++", "cxx": "c++"}
KINDS = {"fragment", "norun", "nocompile"}
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
MAIN = re.compile(r"\bint\s+main\s*\(")

FRAGMENT_HEAD = """\
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <skylog.h>
#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/config.h>
"""


class Block:
    def __init__(self, path, line, info, text):
        self.path, self.line, self.text = path, line, text
        words = info.split()
        self.lang = words[0].lower() if words else ""
        self.attrs = words[1:]

    @property
    def where(self):
        return f"{os.path.relpath(self.path, SRC)}:{self.line}"

    @property
    def checked(self):
        return self.lang in LANGS

    @property
    def kind(self):
        for a in self.attrs:
            if a in KINDS:
                return a
        return "program" if MAIN.search(self.text) else "fragment"


def doc_files(root):
    files = [os.path.join(root, "README.md")]
    for d, _, names in os.walk(os.path.join(root, "docs")):
        files += [os.path.join(d, n) for n in names if n.endswith(".md")]
    return sorted(f for f in files if os.path.exists(f))


def blocks(path):
    """Fenced blocks of a Markdown file, with the line of their first code line."""
    out, cur = [], None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        m = FENCE.match(line)
        if cur is None:
            if m:
                cur = dict(indent=len(m["indent"]), fence=m["fence"], info=m["info"],
                           line=n + 1, body=[])
        elif m and m["fence"][0] == cur["fence"][0] and len(m["fence"]) >= len(cur["fence"]) \
                and not m["info"]:
            body = [l[cur["indent"]:] if l[:cur["indent"]].strip() == "" else l
                    for l in cur["body"]]
            out.append(Block(path, cur["line"], cur["info"], "\n".join(body) + "\n"))
            cur = None
        else:
            cur["body"].append(line)
    return out


def sanitizer_flags():
    return {"address": ["-fsanitize=address,undefined"],
            "thread": ["-fsanitize=thread"]}.get(SANITIZE, [])


def run_env(home):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SKYLOG_", "AWS_")) and k != "NO_COLOR"}
    env.update(HOME=home, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true", ASAN_OPTIONS="detect_leaks=1")
    return env


@unittest.skipUnless(SRC and BUILD and os.path.exists(os.path.join(BUILD, "libskylog.so")),
                     "needs SKYLOG_SOURCE_DIR and a built libskylog (run through ctest)")
class DocCode(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.docs = {p: blocks(p) for p in doc_files(SRC)}

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skylog-docs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def compile(self, b, source, name):
        cxx = LANGS[b.lang] == "c++"
        cc = ("c++" if cxx else "cc")
        if not shutil.which(cc):
            self.skipTest(f"{cc} is not installed")
        d = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(d, name + (".cpp" if cxx else ".c"))
        with open(src, "w") as f:
            f.write(source)
        exe = os.path.join(d, name)
        flags = ["-std=c++17"] if cxx else []
        if b.kind == "fragment":
            flags += ["-Wno-unused-variable", "-Wno-unused-but-set-variable", "-c"]
            exe += ".o"
        p = subprocess.run([cc, *flags, "-Wall", "-Wextra", "-Werror", *sanitizer_flags(),
                            "-I", os.path.join(SRC, "include"), src, "-o", exe,
                            *([] if b.kind == "fragment" else
                              [os.path.join(BUILD, "libskylog.so"), f"-Wl,-rpath,{BUILD}"])],
                           capture_output=True, text=True, cwd=d)
        self.assertEqual(p.returncode, 0,
                         f"{b.where}: the {b.kind} does not compile:\n{p.stderr}")
        return exe

    def check_output(self, b, output, expected):
        got = []
        for line in output.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict):
                ev.pop("timestamp", None)
                got.append(ev)
        for line in expected.text.splitlines():
            if not line.strip():
                continue
            want = json.loads(line)
            want.pop("timestamp", None)
            self.assertIn(want, got, f"{expected.where}: the docs show a line that {b.where} "
                                     f"does not print; it printed:\n{output}")

    def test_blocks(self):
        counts = {"program": 0, "ran": 0, "fragment": 0, "norun": 0, "nocompile": 0}
        for path, bl in self.docs.items():
            for i, b in enumerate(bl):
                if not b.checked:
                    continue
                with self.subTest(block=b.where):
                    unknown = [a for a in b.attrs if a not in KINDS]
                    self.assertFalse(unknown, f"{b.where}: unknown block attribute(s) {unknown}"
                                              f" (known: {sorted(KINDS)})")
                    counts[b.kind] += 1
                    if b.kind == "nocompile":
                        continue
                    if b.kind == "fragment":
                        self.compile(b, self.fragment_source(b), "fragment")
                        continue
                    exe = self.compile(b, b.text, "app")
                    if b.kind == "norun":
                        continue
                    home = tempfile.mkdtemp(dir=self.tmp)
                    p = subprocess.run([exe], cwd=home, env=run_env(home), capture_output=True,
                                       text=True, timeout=300, stdin=subprocess.DEVNULL)
                    self.assertEqual(p.returncode, 0, f"{b.where}: the program exited "
                                                      f"{p.returncode}:\n{p.stdout}{p.stderr}")
                    counts["ran"] += 1
                    nxt = bl[i + 1] if i + 1 < len(bl) else None
                    if nxt and nxt.lang == "json" and "output" in nxt.attrs:
                        self.check_output(b, p.stdout + p.stderr, nxt)
        print(f"\ndoc code blocks: {counts}")
        # the extractor finds the README's quick start: it cannot silently check nothing
        readme = self.docs[os.path.join(SRC, "README.md")]
        self.assertTrue([b for b in readme if b.checked and b.kind == "program"])

    @staticmethod
    def fragment_source(b):
        lines = b.text.splitlines()
        includes = [l for l in lines if l.lstrip().startswith("#include")]
        body = ["" if l.lstrip().startswith("#include") else l for l in lines]
        path = b.path.replace("\\", "\\\\").replace('"', '\\"')
        return (FRAGMENT_HEAD + "\n".join(includes) + "\n"
                "int doc_fragment(void);\n"
                "int doc_fragment(void)\n{\n    sky_t *sky = NULL;\n    (void)sky;\n    {\n"
                f'#line {b.line} "{path}"\n' + "\n".join(body) +
                "\n    }\n    return 0;\n}\n")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_local_endpoint_script(test, text, port, files=None, bins=("skylog",)):
    """Runs `text`, shell lines from a document that start `skylog serve` (on `port`) and talk
    to it, as written (bash -e) in an empty directory with an empty HOME, no AWS_ or SKYLOG_
    variable of the machine and no AWS config file: only what the lines export. `bins` are
    linked from the build tree into a directory first on PATH. Returns the finished process."""
    import skyharness  # only here: the other tests need no server
    tmp = tempfile.mkdtemp(prefix="skylog-docsh-")
    test.addCleanup(shutil.rmtree, tmp, True)
    os.mkdir(os.path.join(tmp, "bin"))
    for name in bins:
        src = skyharness.skylog_bin() if name == "skylog" else os.path.join(
            os.path.dirname(skyharness.skylog_bin()), name)
        os.symlink(src, os.path.join(tmp, "bin", name))
    for name, content in (files or {}).items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(content)
    script = ["set -e", "trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT"]
    for line in text.splitlines():
        script.append(line)
        if "skylog serve" in line:  # a person types the next line later than bash does
            test.assertTrue(re.sub(r"\s#.*", "", line).rstrip().endswith("&"),
                            f"{line!r}: in the foreground, the lines after it never run")
            script.append(f"for i in $(seq 300); do (: </dev/tcp/127.0.0.1/{port}) "
                          "2>/dev/null && break; sleep 0.1; done")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SKYLOG_"))}
    env.update(PATH=os.path.join(tmp, "bin") + os.pathsep + env["PATH"], HOME=tmp,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp, env=env,
                       capture_output=True, text=True, timeout=600)
    p.tmp = tmp
    return p


class LocalEndpointBlocks(unittest.TestCase):
    """The shell lines that start `skylog serve` and talk to it, in README.md, docs/SERVE.md,
    docs/DEMO.md and `skylog serve --help`, run as written on a port this test picks instead
    of theirs (4566, or 0 and PORT): the variables they export are all a fresh machine needs
    (the AWS CLI's own included), and the commands do what the comments say."""

    def doc_blocks(self, name, *needles):
        path = os.path.join(SRC, name)
        return [b for b in blocks(path) if b.lang == "sh" and all(n in b.text for n in needles)]

    def test_readme_block_runs(self):
        found = self.doc_blocks("README.md", "skylog serve", "skylog ship")
        self.assertEqual(len(found), 1, "README.md: one sh block starts skylog serve and ships")
        b = found[0]
        self.assertIn("4566", b.text)
        port = free_port()
        p = run_local_endpoint_script(
            self, b.text.replace("4566", str(port)), port,
            files={"app.log": '{"level":"INFO","message":"cart_viewed"}\n'
                              '{"level":"ERROR","message":"payment_failed"}\n'})
        self.assertEqual(p.returncode, 0, f"{b.where}: {p.stdout}{p.stderr}")
        self.assertIn("payment_failed", p.stdout)   # tail --filter ERROR
        # query: one row, one ERROR (the count right-aligned under its header)
        self.assertRegex(p.stdout, r"\npayment_failed +1\n")
        self.assertNotIn("cart_viewed", p.stdout)
        self.assertIn("/shop/prod", p.stdout)       # groups
        self.assertTrue(os.path.exists(os.path.join(p.tmp, "cw-data")))
        # the AWS CLI line the README's text gives reads the same data, with those exports
        self.need_aws_cli()
        port2 = free_port()
        text = b.text.splitlines()[:2] + [
            "aws --endpoint-url http://127.0.0.1:4566 logs describe-log-groups"]
        p = run_local_endpoint_script(self, "\n".join(text).replace("4566", str(port2)), port2)
        self.assertEqual(p.returncode, 0, f"{b.where} and the aws line: {p.stderr}")
        self.assertIn('"logGroups"', p.stdout)

    def need_aws_cli(self):
        import skyharness
        if not skyharness.have_aws_cli():
            self.skipTest("the AWS CLI (aws) is not installed")

    def test_serve_md_block_runs(self):
        self.need_aws_cli()
        found = self.doc_blocks("docs/SERVE.md", "skylog serve", "aws --endpoint-url")
        self.assertEqual(len(found), 1, "docs/SERVE.md: the first block")
        b = found[0]
        port = free_port()
        text = b.text.replace("--port 0", f"--port {port}").replace("PORT", str(port))
        text = text.replace("/tmp/sky", "./sky")
        p = run_local_endpoint_script(self, text, port)
        self.assertEqual(p.returncode, 0, f"{b.where}: {p.stdout}{p.stderr}")
        self.assertIn('"logGroups"', p.stdout)

    def test_demo_md_blocks_run(self):
        """DEMO.md's two terminals: the server in the first, the rest in the second."""
        serve = self.doc_blocks("docs/DEMO.md", "skylog serve")
        rest = self.doc_blocks("docs/DEMO.md", "example_cloudwatch", "skylog tail")
        self.assertEqual((len(serve), len(rest)), (1, 1))
        port = free_port()
        text = (serve[0].text.rstrip().split("#")[0] + " &\n" + rest[0].text)
        text = text.replace("build/release/", "").replace("4566", str(port))
        text = text.replace("/tmp/demo-data", "./demo-data")
        text = text.replace(" 100000", " 2000")  # the same program, fewer events: ASan is slow
        p = run_local_endpoint_script(self, text, port, bins=("skylog", "example_cloudwatch"))
        self.assertEqual(p.returncode, 0, f"{rest[0].where}: {p.stdout}{p.stderr}")
        self.assertIn('"level":"ERROR"', p.stdout)  # tail --filter ERROR
        self.assertIn("/demo/shop", p.stdout)       # groups

    def test_serve_help_examples_run(self):
        """`skylog serve --help`'s first example, and the AWS CLI line after it, as printed."""
        self.need_aws_cli()
        import skyharness
        h = subprocess.run([skyharness.skylog_bin(), "serve", "--help"], capture_output=True,
                           text=True, timeout=60).stdout
        ex = h.split("\nexamples:\n", 1)[1].replace("\\\n", "").splitlines()
        ex = [l.strip() for l in ex if l.strip()]
        self.assertTrue(ex[0].startswith("skylog serve") and "aws --endpoint-url" in ex[1], ex)
        port = free_port()
        first = ex[0].split("#")[0].replace("/tmp/sky", "./sky") + f" --port {port} &"
        p = run_local_endpoint_script(self, first + "\n" + ex[1].replace("4566", str(port)),
                                      port)
        self.assertEqual(p.returncode, 0, f"skylog serve --help: {p.stdout}{p.stderr}")
        self.assertIn('"logGroups"', p.stdout)


class Extractor(unittest.TestCase):
    """The extractor itself, on a document written here."""

    def test_fences(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.md")
            with open(p, "w") as f:
                f.write("text\n```c\nint main(void) { return 0; }\n```\n"
                        "- item\n\n  ```c fragment\n  int x = 1;\n  ```\n"
                        "````sh\n```c\nnot a block\n```\n````\n"
                        "```json output\n{}\n```\n")
            bl = blocks(p)
        self.assertEqual([(b.lang, b.kind, b.line) for b in bl],
                         [("c", "program", 3), ("c", "fragment", 8), ("sh", "fragment", 11),
                          ("json", "fragment", 16)])
        self.assertEqual(bl[1].text, "int x = 1;\n")
        self.assertEqual(bl[2].text, "```c\nnot a block\n```\n")
        self.assertEqual(bl[3].attrs, ["output"])


if __name__ == "__main__":
    unittest.main()
