"""What a new user copies from README.md and docs/ works on the code as it is, beyond the C
blocks test_docs.py compiles:

- every YAML block is a configuration `skylog config check` accepts (its absolute file paths
  moved into a temporary directory, a key file made for `key_file`, AWS_REGION set: the rest
  is the document's);
- every `skylog COMMAND [SUBCOMMAND] --flag` shown, in a shell block or inline code, names a
  flag that command's --help lists (the parser and --help are one table per command);
- every relative link resolves to a file, and its #anchor to a heading of that file;
- every SKYLOG_* variable named is one `sky_open_env()` reads (`skylog config options --env`)
  or one the build, the tests or serve read (found in the sources);
- every `sky_*_stats.member` / `sky_*_opts.member` and every public `sky_`/`SKY_` name written
  in code is in the public headers;
- the lists that describe the tree name all of it: fuzz targets in docs/FUZZING.md, server/*.c
  in SERVE.md, src/aws/*.c in aws.md, examples/ in README.md, make test's stages (the
  Makefile's TEST_STAGES) in README.md and TESTING.md, the cloudwatch_logs options (the
  registry) in CLOUDWATCH.md's table, the processors' order from the environment in
  CONFIGURATION.md, the structs that grew into their reserved space in COMPATIBILITY.md;
- each command reads the endpoint variable its --help names, and AWS_ENDPOINT_URL alone
  points every command at `skylog serve` (README, "To CloudWatch").

A YAML block that is not a configuration would be marked ```yaml nocheck (none is today).
"""
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import skyharness as sh
import test_docs

SRC = os.environ.get("SKYLOG_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
COMMANDS = ("serve", "ship", "tail", "groups", "streams", "query", "metrics", "alarm", "config",
            "audit", "version", "help")
ABS_PATH = re.compile(r"(?<![\w/.])/(?:var|etc|srv|opt|home|tmp|run)/[\w./-]*[\w]")


def doc_files():
    return test_docs.doc_files(SRC)


def run_skylog(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SKYLOG_", "AWS_"))}
    e.update(AWS_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
             AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    e.update(env or {})
    return subprocess.run([sh.skylog_bin(), *args], capture_output=True, text=True, env=e,
                          timeout=60 * sh.timeout_scale())


def code_spans(line):
    return re.findall(r"`([^`]+)`", line)


def skylog_invocations(path):
    """(line number, text after 'skylog ') of every command shown: shell blocks' lines and
    inline code spans outside blocks."""
    out = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fence = None
    for n, line in enumerate(lines, 1):
        m = test_docs.FENCE.match(line)
        if m:
            if fence is None:
                fence = (m["fence"], m["info"].split()[:1])
                continue
            if m["fence"][0] == fence[0][0] and not m["info"]:
                fence = None
                continue
        if fence is not None:
            texts = [re.sub(r"(^|\s)#.*", "", line)] \
                if fence[1] in (["sh"], ["bash"], ["console"], ["shell"]) else []
        else:
            texts = code_spans(line)
        if "not in `--help`" in line:  # a flag for tests only, said so where it is shown
            continue
        for t in texts:
            for c in re.finditer(r"(?:^|[\s|;&(/])skylog ((?:%s)\b[^|;&#]*)" % "|".join(COMMANDS),
                                 t):
                out.append((n, c.group(1)))
    return out


class DocClaims(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skylog-docclaims-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_yaml_blocks_are_valid_configurations(self):
        n = 0
        for path in doc_files():
            for b in test_docs.blocks(path):
                if b.lang not in ("yaml", "yml") or "nocheck" in b.attrs:
                    continue
                n += 1
                d = tempfile.mkdtemp(dir=self.tmp)

                def move(m):
                    p = os.path.join(d, m.group(0).lstrip("/"))
                    os.makedirs(os.path.dirname(p), exist_ok=True)
                    return p
                text = ABS_PATH.sub(move, b.text)
                for key in re.findall(r"key_file:\s*([^\s,}]+)", text):
                    with open(key, "w") as f:
                        f.write("k" * 32)
                cfg = os.path.join(d, "skylog.yaml")
                with open(cfg, "w") as f:
                    f.write(text)
                with self.subTest(block=b.where):
                    p = run_skylog("config", "check", cfg)
                    self.assertEqual(p.returncode, 0, f"{b.where}: the YAML block is not a valid "
                                                      f"configuration:\n{p.stdout}{p.stderr}")
        self.assertGreater(n, 5)  # the extractor finds the blocks: it cannot check nothing

    def test_commands_shown_take_the_flags_shown(self):
        helps = {}

        def help_of(args):
            if args not in helps:
                p = run_skylog(*args, "--help")
                self.assertEqual(p.returncode, 0, f"skylog {' '.join(args)} --help: {p.stderr}")
                helps[args] = p.stdout
            return helps[args]
        n = 0
        for path in doc_files():
            for line, text in skylog_invocations(path):
                try:
                    words = shlex.split(text, comments=True)
                except ValueError:
                    words = text.split()
                if not words or words[0] not in COMMANDS:
                    continue
                args = (words[0],)
                if len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*", words[1]) and \
                        words[0] in ("metrics", "alarm", "config", "audit"):
                    args += (words[1],)
                h = help_of(args)
                for w in words[len(args):]:
                    flag = w.split("=", 1)[0]
                    if not re.fullmatch(r"--?[A-Za-z][\w-]*", flag) or flag in ("--help", "-h"):
                        continue
                    n += 1
                    where = f"{os.path.relpath(path, SRC)}:{line}"
                    self.assertRegex(h, r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])",
                                     f"{where}: `skylog {' '.join(args)}` shows {flag}, which "
                                     f"its --help does not list")
        self.assertGreater(n, 50)

    def test_links_resolve(self):
        def anchors(md):
            out = set()
            with open(md, encoding="utf-8") as f:
                for line in f:
                    m = re.match(r"#+\s+(.*)", line)
                    if m:  # GitHub's slugs: lower case, punctuation dropped, spaces to '-'
                        out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
                                .replace(" ", "-"))
            return out
        n = 0
        for path in doc_files():
            inside = False
            with open(path, encoding="utf-8") as f:
                lines = f.read().split("\n")
            for i, line in enumerate(lines, 1):
                if test_docs.FENCE.match(line):
                    inside = not inside
                if inside:
                    continue
                for target in re.findall(r"\]\(([^)\s]+)\)", line):
                    if re.match(r"[a-z]+:", target):
                        continue
                    n += 1
                    file, _, frag = target.partition("#")
                    dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) \
                        if file else path
                    where = f"{os.path.relpath(path, SRC)}:{i}"
                    self.assertTrue(os.path.exists(dest), f"{where}: {target}: no such file")
                    if frag and dest.endswith(".md"):
                        self.assertIn(frag, anchors(dest),
                                      f"{where}: {target}: no such heading")
        self.assertGreater(n, 20)

    def test_variables_named_exist(self):
        p = run_skylog("config", "options", "--env")
        self.assertEqual(p.returncode, 0, p.stderr)
        read = {line.split()[0] for line in p.stdout.splitlines() if line.strip()}
        sources = subprocess.run(["git", "-C", SRC, "grep", "-h", "-o", "-E", r"SKYLOG_[A-Z0-9_]+",
                                  "--", "src", "include", "server", "cli", "python", "tests",
                                  "scripts", "CMakeLists.txt", "Makefile"],
                                 capture_output=True, text=True)
        if sources.returncode not in (0, 1):
            self.skipTest("not a git checkout")
        known = read | set(sources.stdout.split())
        shown_wrong = {"SKYLOG_LEVLE", "SKYLOG_FILE_MODE"}  # CONFIGURATION.md's typo examples
        for path in doc_files():
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    for v in re.findall(r"\bSKYLOG_[A-Z0-9_]*[A-Z0-9]\b", line):
                        if v in shown_wrong:
                            continue
                        self.assertIn(v, known, f"{os.path.relpath(path, SRC)}:{i}: {v} is "
                                                f"read by nothing")

    def test_processor_order_is_the_tables(self):
        """CONFIGURATION.md's list of the order sky_open_env() runs processors in is the option
        tables' order (src/config/env.c builds them in it), every processor named."""
        with open(os.path.join(SRC, "docs", "CONFIGURATION.md"), encoding="utf-8") as f:
            doc = " ".join(f.read().split())
        m = re.search(r"Processors run in the order of the reference below \(([^;)]*)", doc)
        self.assertTrue(m, "CONFIGURATION.md no longer states the processors' order")
        shown = [w.strip() for w in m.group(1).split(",")]
        p = run_skylog("config", "options")
        self.assertEqual(p.returncode, 0, p.stderr)
        tables = re.findall(r"^(\w+): ", p.stdout.split("\nProcessors:", 1)[1], re.M)
        # (the first block, "processor", is the keys every processor accepts: no processor)
        self.assertEqual(shown, [n for n in tables if n not in ("system_metrics", "processor")])

    def test_cloudwatch_options_table_lists_every_option(self):
        """docs/CLOUDWATCH.md's "Options" table names every option of the cloudwatch_logs
        sink the registry has (the route keys aside): a new one is documented there too."""
        with open(os.path.join(SRC, "docs", "CLOUDWATCH.md"), encoding="utf-8") as f:
            section = f.read().split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
        p = run_skylog("config", "options", "cloudwatch_logs")
        self.assertEqual(p.returncode, 0, p.stderr)
        options = re.findall(r"^  (\w+) ", p.stdout.split("(and the route keys", 1)[0], re.M)
        self.assertIn("log_group", options)
        for o in options:
            self.assertTrue(f"`{o}`" in section, f"CLOUDWATCH.md's options table lacks {o}")

    def test_serve_code_list_names_every_file(self):
        """docs/SERVE.md's "Code:" list names every server/*.c (one concept per file)."""
        with open(os.path.join(SRC, "docs", "SERVE.md"), encoding="utf-8") as f:
            doc = f.read()
        m = re.search(r"^Code: (.*?)\n\n", doc, re.S | re.M)
        self.assertTrue(m, "SERVE.md has no 'Code:' paragraph")
        files = sorted(n for n in os.listdir(os.path.join(SRC, "server")) if n.endswith(".c"))
        self.assertGreater(len(files), 10)
        for n in files:
            self.assertIn(f"`{n}`", m.group(1), f"SERVE.md's code list lacks server/{n}")

    def test_aws_files_table_names_every_file(self):
        """docs/aws.md's "Files" table names every src/aws/*.c."""
        with open(os.path.join(SRC, "docs", "aws.md"), encoding="utf-8") as f:
            table = f.read().split("\n## Files\n", 1)[1].split("\n## ", 1)[0]
        files = sorted(n for n in os.listdir(os.path.join(SRC, "src", "aws")) if n.endswith(".c"))
        self.assertGreater(len(files), 10)
        for n in files:
            self.assertIn(f"`{n}`", table, f"aws.md's Files table lacks src/aws/{n}")

    def test_grown_structs_are_named(self):
        """COMPATIBILITY.md says how many reserved slots a struct that has grown has left: every
        public struct whose reserved_ is not 8 slots is named there with its count."""
        with open(os.path.join(SRC, "docs", "COMPATIBILITY.md"), encoding="utf-8") as f:
            doc = " ".join(f.read().split())
        m = re.search(r"8 slots in 1\.0\.0, fewer in a struct that has grown since \(([^)]*)\)",
                      doc)
        self.assertTrue(m, "COMPATIBILITY.md no longer lists the structs that have grown")
        grown = {}
        inc = os.path.join(SRC, "include")
        for d, _, names in os.walk(inc):
            for n in names:
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    for k, s in re.findall(r"uint64_t reserved_\[(\d+)\];[^\n]*\n\} (\w+);",
                                           f.read()):
                        if k != "8":
                            grown[s] = k
        self.assertTrue(grown)
        text = m.group(1)  # "`A` and `B` 7, `C` 6": the next number after a name is its count
        for s, k in grown.items():
            self.assertRegex(text, rf"`{s}`[^0-9]*{k}\b",
                             f"COMPATIBILITY.md does not say {s} has {k} reserved slots")

    def test_readme_names_every_example(self):
        """README.md's list of examples/ names every example program."""
        with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
            m = re.search(r"^- `examples/` — (.*?)\n- ", f.read(), re.S | re.M)
        self.assertTrue(m, "README.md has no examples/ item")
        names = [os.path.splitext(n)[0] for n in os.listdir(os.path.join(SRC, "examples"))
                 if n.endswith((".c", ".cpp"))]
        self.assertGreater(len(names), 5)
        for n in names:
            self.assertIn(f"`{n}`", m.group(1), f"README.md's examples list lacks {n}")

    def test_test_stages_are_documented(self):
        """The stages `make test` runs (the Makefile's TEST_STAGES) are the ones README.md
        lists and docs/TESTING.md has a row for."""
        with open(os.path.join(SRC, "Makefile"), encoding="utf-8") as f:
            stages = re.search(r"^TEST_STAGES \?= (.*)$", f.read(), re.M).group(1).split()
        self.assertIn("asan", stages)
        with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
            readme = " ".join(f.read().split())
        listed = re.search(r"`make test` runs its stages \(([^)]*)\)", readme)
        self.assertTrue(listed, "README.md no longer lists make test's stages")
        names = {"ASan+UBSan": "asan", "TSan": "tsan", "clang": "clang", "release": "release"}
        self.assertEqual([names.get(s.strip(), s.strip()) for s in listed.group(1).split(",")],
                         stages)
        with open(os.path.join(SRC, "docs", "TESTING.md"), encoding="utf-8") as f:
            testing = f.read()
        for s in stages:
            self.assertIn(f"| `{s}` |", testing, f"TESTING.md has no row for stage {s}")

    def test_struct_members_named_exist(self):
        """Every `sky_..._stats.member` / `sky_..._opts.member` the docs name (a counter, an
        option) is a member of that struct in the public headers."""
        structs = {}
        inc = os.path.join(SRC, "include")
        for d, _, names in os.walk(inc):
            for n in names:
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    h = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
                for m in re.finditer(r"\}\s*(sky_\w+);", h):
                    start = h.rfind("typedef struct", 0, m.start())
                    structs[m.group(1)] = set(re.findall(r"\w+", h[start:m.start()]))
        self.assertIn("sky_stats", structs)
        n = 0
        for path in doc_files():
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    for s, member in re.findall(r"\b(sky_\w+_(?:stats|opts))\.(\w+)", line):
                        n += 1
                        where = f"{os.path.relpath(path, SRC)}:{i}"
                        self.assertIn(s, structs, f"{where}: no struct {s} in include/")
                        self.assertIn(member, structs[s], f"{where}: {s} has no member {member}")
        self.assertGreater(n, 10)

    def test_public_names_named_exist(self):
        """Every public function, macro or type the docs name in code (`sky_x()`, `SKY_X`,
        `sky_x_opts`) is in the public headers (internal sky__ names aside)."""
        text = ""
        for d, _, names in os.walk(os.path.join(SRC, "include")):
            for n in names:
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    text += f.read()
        public = set(re.findall(r"\b(?:sky|SKY)_\w+", text))
        build_only = {"SKY_FUZZ_SANDBOXED", "SKY_TSAN_INTEGRATION", "sky_fuzz_cstr", "sky_buf"}
        n = 0
        for path in doc_files():
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f, 1):
                    for span in code_spans(line):
                        for name in re.findall(r"^(?:sky|SKY)_(?!_)\w+(?=\(\)$|$)", span):
                            if name in build_only:
                                continue
                            n += 1
                            self.assertIn(name, public, f"{os.path.relpath(path, SRC)}:{i}: "
                                                        f"{name} is in no public header")
        self.assertGreater(n, 100)

    def test_serve_options_table_lists_every_option(self):
        """docs/SERVE.md's Options table has every option `skylog serve --help` lists."""
        with open(os.path.join(SRC, "docs", "SERVE.md"), encoding="utf-8") as f:
            table = f.read().split("\n## Options\n", 1)[1].split("\n## ", 1)[0]
        p = run_skylog("serve", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        flags = re.findall(r"(?<![\w-])(--[a-z][\w-]*)", p.stdout.split("\noptions:\n", 1)[1]
                           .split("\nexamples:", 1)[0])
        self.assertIn("--faults", flags)
        for flag in set(flags) - {"--help"}:
            self.assertTrue(re.search(r"(?<![\w-])" + re.escape(flag) + r"(?![\w-])", table),
                            f"SERVE.md's options table lacks {flag}")

    def test_cli_table_lists_every_command(self):
        """docs/CLI.md's table of commands has every command `skylog --help` lists."""
        with open(os.path.join(SRC, "docs", "CLI.md"), encoding="utf-8") as f:
            table = f.read().split("\n\n", 2)[2].split("\n\n", 1)[0]
        p = run_skylog("--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        commands = re.findall(r"^  ([a-z]+)  ", p.stdout.split("\ncommands:\n", 1)[1]
                              .split("\n\n", 1)[0], re.M)
        self.assertIn("ship", commands)
        for c in commands:
            self.assertIn(f"`skylog {c}", table, f"CLI.md's table of commands lacks {c}")

    def test_env_aliases_are_the_documented_ones(self):
        """CONFIGURATION.md's list of the short variable names (aliases) is what
        `config options --env` lists as aliases, SKYLOG_REDACT (a boolean of its own) aside."""
        with open(os.path.join(SRC, "docs", "CONFIGURATION.md"), encoding="utf-8") as f:
            doc = " ".join(f.read().split())
        m = re.search(r"The short names of earlier versions are documented aliases: (.*?)\. "
                      r"Setting an alias", doc)
        self.assertTrue(m, "CONFIGURATION.md no longer lists the aliases")
        shown = set(re.findall(r"SKYLOG_[A-Z_]+", m.group(1))) - {"SKYLOG_REDACT"}
        p = run_skylog("config", "options", "--env")
        self.assertEqual(p.returncode, 0, p.stderr)
        aliases = {line.split()[0] for line in p.stdout.splitlines() if " alias of " in line}
        self.assertGreater(len(aliases), 5)
        self.assertEqual(shown, aliases)

    def test_every_fuzz_target_is_documented(self):
        with open(os.path.join(SRC, "docs", "FUZZING.md"), encoding="utf-8") as f:
            doc = f.read()
        names = [n[len("fuzz_"):-2] for n in os.listdir(os.path.join(SRC, "tests", "fuzz"))
                 if re.fullmatch(r"fuzz_\w+\.c", n)]
        self.assertGreater(len(names), 10)
        for name in names:
            self.assertRegex(doc, rf"`(?:fuzz_)?{name}`",
                             f"tests/fuzz/fuzz_{name}.c is not in docs/FUZZING.md's targets")


class EndpointVariables(unittest.TestCase):
    """Each command's --help names the endpoint variable it reads, and it is the one it reads:
    the service's own (AWS_ENDPOINT_URL_CLOUDWATCH for metrics and alarm, which talk to
    CloudWatch's "monitoring"; AWS_ENDPOINT_URL_CLOUDWATCH_LOGS for the Logs commands), before
    AWS_ENDPOINT_URL. The other variables point at a port where nothing listens."""
    DEAD = "http://127.0.0.1:9"

    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def check(self, own, other, *args):
        h = sh.run_skylog(self, args[0], "--help")
        self.assertIn(f"(default: {own},", h.stdout)
        env = sh.endpoint_env(self.srv)
        env.update({"AWS_ENDPOINT_URL": self.DEAD, other: self.DEAD, own: self.srv.url})
        p = sh.run_skylog(self, *args, env=env, check=False)
        self.assertEqual(p.returncode, 0, f"skylog {' '.join(args)} with only {own} pointing "
                                          f"at serve: {p.stderr}")

    def test_metrics_and_alarm_read_the_cloudwatch_variable(self):
        self.check("AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                   "metrics", "list")
        self.check("AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                   "alarm", "describe")

    def test_aws_endpoint_url_alone_points_every_command_at_serve(self):
        """README: `export AWS_ENDPOINT_URL=...` points every command at it without --endpoint
        (no service variable set)."""
        env = {k: v for k, v in sh.endpoint_env(self.srv).items()
               if k not in ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_CLOUDWATCH")}
        for args, stdin in ((("ship", "-g", "/docs/endpoint", "-q", "-"), "one line\n"),
                            (("groups",), None), (("streams", "/docs/endpoint"), None),
                            (("metrics", "list"), None), (("alarm", "describe"), None)):
            with self.subTest(command=args[0]):
                p = subprocess.run([sh.skylog_bin(), *args], input=stdin, env=env, text=True,
                                   capture_output=True, timeout=120 * sh.timeout_scale(),
                                   stdin=None if stdin is not None else subprocess.DEVNULL)
                self.assertEqual(p.returncode, 0, f"skylog {' '.join(args)}: {p.stderr}")
                if args[0] == "groups":
                    self.assertIn("/docs/endpoint", p.stdout)

    def test_logs_commands_read_the_logs_variable(self):
        self.check("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_CLOUDWATCH", "groups")

    COMMANDS = ((("ship", "-g", "/docs/region", "-q", "-"), "one line\n", "logs"),
                (("groups",), None, "logs"), (("streams", "/docs/region"), None, "logs"),
                (("tail", "/docs/region"), None, "logs"),
                (("query", "-g", "/docs/region", "fields @message"), None, "logs"),
                (("metrics", "list"), None, "cw"), (("alarm", "describe"), None, "cw"))

    def run_bare(self, args, stdin, env):
        return subprocess.run([sh.skylog_bin(), *args], input=stdin, env=env, text=True,
                              capture_output=True, timeout=120 * sh.timeout_scale(),
                              stdin=None if stdin is not None else subprocess.DEVNULL)

    def test_a_service_variable_alone_needs_no_region(self):
        """serve needs no real region: the service's own endpoint variable (what `make demo`
        exports, and what every --help names first) is enough without AWS_REGION, as
        AWS_ENDPOINT_URL and --endpoint are."""
        base = {k: v for k, v in sh.endpoint_env(self.srv).items()
                if not k.startswith("AWS_ENDPOINT_URL") and k not in ("AWS_REGION",
                                                                      "AWS_DEFAULT_REGION")}
        for args, stdin, svc in self.COMMANDS:
            var = "AWS_ENDPOINT_URL_CLOUDWATCH" + ("_LOGS" if svc == "logs" else "")
            with self.subTest(command=args[0]):
                p = self.run_bare(args, stdin, dict(base, **{var: self.srv.url}))
                self.assertEqual(p.returncode, 0, f"skylog {' '.join(args)} with only {var}: "
                                                  f"{p.stderr}")

    def test_no_region_says_how_to_give_one(self):
        """With neither a region nor an endpoint, every command stops before sending, exit 1,
        saying which flag and variable give one (not the library's "region option")."""
        env = {k: v for k, v in sh.endpoint_env(self.srv).items()
               if not k.startswith("AWS_ENDPOINT_URL") and k not in ("AWS_REGION",
                                                                     "AWS_DEFAULT_REGION")}
        for args, stdin, _ in self.COMMANDS:
            with self.subTest(command=args[0]):
                p = self.run_bare(args, stdin, env)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertRegex(p.stderr, rf"\Askylog {args[0]}: no AWS region: pass --region "
                                 r"REGION, or set AWS_REGION[^\n]*\n\Z")


if __name__ == "__main__":
    unittest.main()
