"""The CLI's own documentation: man pages made from --help (they cannot drift: every word of
--help is in the page, in order), the pages the build installs are the ones --help makes now,
bash and zsh completion parse and complete what --help lists, every command's --help has an
example, and mistyped commands and options get a did-you-mean.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import skyharness


# the column of every option's description in every --help (0-based: 24 characters before it)
HELP_COLUMN = 24


def run(*args, check=True):
    p = subprocess.run([skyharness.skylog_bin(), *args], capture_output=True, text=True,
                       timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"skylog {' '.join(args)}: {p.returncode} {p.stderr}")
    return p


def commands():
    out = run("--help").stdout
    block = out.split("commands:\n", 1)[1].split("\n\n", 1)[0]
    return [l.split()[0] for l in block.splitlines()]


def help_words(text):
    words = [w.rstrip(":").lower() for w in text.split() if w != "usage:"]
    return [w for w in words if w]


def man_words(roff):
    """The words a reader sees, from SYNOPSIS on, without the headers the page adds."""
    words, started = [], False
    for line in roff.splitlines():
        if line.startswith('.\\"'):
            continue
        if line.startswith("."):
            macro, _, rest = line.partition(" ")
            if macro == ".SH":
                if rest == "SYNOPSIS":
                    started = True
                    continue
                if rest == "DESCRIPTION":
                    continue
            elif macro != ".B":
                continue
            line = rest
        if not started:
            continue
        line = line.replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
        words += line.split()
    return [w.rstrip(":").lower() for w in words if w.rstrip(":")]


class CliDocs(unittest.TestCase):
    def test_man_pages_say_what_help_says(self):
        cmds = commands()
        self.assertIn("ship", cmds)
        for cmd in [None] + cmds:
            help_text = run("--help").stdout if cmd is None else run(cmd, "--help").stdout
            self.assertEqual(help_text, run("help", *([cmd] if cmd else ["--help"])).stdout
                             if cmd else help_text)
            page = run("help", "--man", *([cmd] if cmd else [])).stdout
            self.assertEqual(man_words(page), help_words(help_text), f"man page of {cmd}")
            title = "skylog-" + cmd if cmd else "skylog"
            self.assertIn(f".TH {title.upper()} 1", page)
            if shutil.which("groff"):
                g = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=page,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(g.stderr, "", f"groff warnings for {title}")

    def test_built_pages_are_current(self):
        build = os.environ.get("SKYLOG_BUILD_DIR")
        if not build or not os.path.isdir(os.path.join(build, "clidocs")):
            self.skipTest("no build tree with clidocs/ (SKYLOG_BUILD_DIR): run through ctest, "
                          "whose fixture build.skylog_cli_docs builds them")
        docs = os.path.join(build, "clidocs")
        for cmd in [None] + commands():
            name = f"skylog-{cmd}.1" if cmd else "skylog.1"
            with open(os.path.join(docs, "man1", name)) as f:
                self.assertEqual(f.read(), run("help", "--man", *([cmd] if cmd else [])).stdout)
        with open(os.path.join(docs, "bash-completion", "skylog")) as f:
            self.assertEqual(f.read(), run("help", "--completion", "bash").stdout)
        with open(os.path.join(docs, "zsh", "_skylog")) as f:
            self.assertEqual(f.read(), run("help", "--completion", "zsh").stdout)

    def test_write_docs_and_install_layout(self):
        d = tempfile.mkdtemp(prefix="skydocs-")
        self.addCleanup(shutil.rmtree, d, True)
        run("help", "--write-docs", d)
        self.assertEqual(sorted(os.listdir(os.path.join(d, "man1"))),
                         sorted(["skylog.1"] + [f"skylog-{c}.1" for c in commands()]))
        self.assertTrue(os.path.isfile(os.path.join(d, "bash-completion", "skylog")))
        self.assertTrue(os.path.isfile(os.path.join(d, "zsh", "_skylog")))

    def test_make_install_installs_them(self):
        build = os.environ.get("SKYLOG_BUILD_DIR")
        if not build or not os.path.isfile(os.path.join(build, "cmake_install.cmake")) or \
                not os.path.isdir(os.path.join(build, "clidocs")):
            self.skipTest("no build tree with clidocs/ (SKYLOG_BUILD_DIR): run through ctest, "
                          "whose fixture build.skylog_cli_docs builds them")
        prefix = tempfile.mkdtemp(prefix="skyinst-")
        self.addCleanup(shutil.rmtree, prefix, True)
        # their component alone: what installs them, without needing the rest built
        p = subprocess.run(["cmake", "--install", build, "--prefix", prefix,
                            "--component", "clidocs"],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        share = os.path.join(prefix, "share")
        for cmd in [None] + commands():
            name = f"skylog-{cmd}.1" if cmd else "skylog.1"
            self.assertTrue(os.path.isfile(os.path.join(share, "man", "man1", name)), name)
        self.assertTrue(os.path.isfile(os.path.join(share, "bash-completion", "completions",
                                                    "skylog")))
        self.assertTrue(os.path.isfile(os.path.join(share, "zsh", "site-functions", "_skylog")))

    def complete_bash(self, script, *words):
        """COMPREPLY for the words typed so far (the last one is being completed)."""
        prog = (f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in words)}); "
                f"COMP_CWORD={len(words) - 1}; _skylog; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        p = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def test_bash_completion(self):
        script = run("help", "--completion", "bash").stdout
        p = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.complete_bash(script, "skylog", "sh"), ["ship"])
        self.assertEqual(self.complete_bash(script, "skylog", "ship", "--fol"), ["--follow"])
        self.assertEqual(sorted(self.complete_bash(script, "skylog", "tail", "--filter")),
                         ["--filter", "--filter-pattern"])
        self.assertEqual(sorted(self.complete_bash(script, "skylog", "config", "")),
                         ["check", "options"])
        # every option --help lists is offered
        for cmd in commands():
            text = run(cmd, "--help").stdout
            section = text.split("options:\n", 1)[1] if "options:\n" in text else ""
            listed = re.findall(r"^ {1,6}(?:-\w, )?(--[a-z][a-z0-9-]*)", section, re.M)
            offered = self.complete_bash(script, "skylog", cmd, "-")
            for opt in listed:
                self.assertIn(opt, offered, f"skylog {cmd}")

    def test_zsh_completion(self):
        script = run("help", "--completion", "zsh").stdout
        self.assertTrue(script.startswith("#compdef skylog\n"))
        self.assertIn("--no-reassemble", script)
        if not shutil.which("zsh"):
            self.skipTest("zsh is not installed: the zsh script's syntax is not checked "
                          "(apt-get install zsh)")
        p = subprocess.run(["zsh", "-n"], input=script, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_every_help_has_an_example_and_exit_codes_are_documented(self):
        for cmd in commands():
            text = run(cmd, "--help").stdout
            self.assertRegex(text, r"\nexamples?:\n  skylog ", f"skylog {cmd} --help")
        overview = run("--help").stdout
        for code in ("0", "1", "2", "130"):
            self.assertRegex(overview, rf"\n  {code} +\S", "exit status in skylog --help")

    def test_every_help_aligns_its_options_at_one_column(self):
        # One column for every command's option descriptions, the shared AWS options'
        # (SKY__AWS_OPTS_HELP_FOR) included: an option whose name is too long for it has its
        # description on the next line, at that column; wrapped lines continue there too.
        col = HELP_COLUMN
        for cmd in commands():
            lines, in_options = run(cmd, "--help").stdout.splitlines(), False
            for i, line in enumerate(lines):
                if re.match(r"^[A-Za-z].*:$", line):
                    in_options = line.endswith("options:")
                    continue
                if not in_options or not line.strip():
                    continue
                where = f"skylog {cmd} --help, line {i + 1}: {line!r}"
                if re.match(r"^ {2,6}-", line):  # an option
                    if len(line) > col and line[col - 1] == " " and line[col] != " ":
                        continue
                    nxt = lines[i + 1] if i + 1 < len(lines) else ""
                    alone = "  " not in line.strip() and re.match(rf"^ {{{col}}}\S", nxt) \
                        and not re.match(r"^ {2,6}-", nxt)
                    self.assertTrue(alone, f"description not at column {col}: {where}")
                else:  # a description's next line
                    self.assertRegex(line, rf"^ {{{col}}}\S", f"not at column {col}: {where}")

    def test_did_you_mean(self):
        p = run("shipp", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown command 'shipp'; did you mean 'ship'?", p.stderr)
        for cmd, typo, real in (("ship", "--folow", "--follow"), ("tail", "--sinse", "--since"),
                                ("serve", "--verbsoe", "--verbose"),
                                ("groups", "--prefx", "--prefix")):
            p = run(cmd, typo, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(f"unknown option '{typo}'; did you mean '{real}'?", p.stderr)
        p = run("ship", "--zzzzzzzz", check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--zzzzzzzz' (see skylog ship --help)", p.stderr)

    # How to reach each command's option parser: the subcommand, and an argument its parser
    # wants before it sees the options (nothing is sent: the typo stops it first).
    PARSER_ARGS = {"metrics": ["put"], "alarm": ["put", "a1"], "audit": ["verify"],
                   "config": ["options"]}

    @staticmethod
    def typos(word):
        """Misspellings a person makes: two neighbouring letters swapped (never the first)."""
        out = []
        for i in range(1, len(word) - 1):
            if word[i] != word[i + 1] and word[i].isalpha() and word[i + 1].isalpha():
                out.append(word[:i] + word[i + 1] + word[i] + word[i + 2:])
        return out

    def assert_usage_line(self, p, what):
        """One line on stderr, exit 2, naming where to look (`(see skylog X --help)`), as every
        command's usage errors do."""
        self.assertEqual(p.returncode, 2, f"{what}: {p.stderr}")
        self.assertEqual(p.stdout, "", what)
        self.assertRegex(p.stderr, r"\Askylog(?: [a-z-]+)*: [^\n]+ \(see skylog(?: [a-z-]+)* "
                         r"--help\)\n\Z", what)

    def subcommands(self, cmd, text):
        usage = text.split("\n\n", 1)[0]
        return sorted({m.group(1) for m in re.finditer(
            rf"(?m)^(?:usage:)?\s+skylog {cmd} ([a-z][a-z-]+)\b", usage)})

    def test_every_command_subcommand_and_option_typo_is_named(self):
        """Fixes the class, not the cases above: for every command, every subcommand its usage
        lines show and every --option its --help names, a swapped pair of letters is answered
        with that very name, in one usage line (exit 2)."""
        cmds = commands()
        self.assertIn("ship", cmds)
        for top, real in (("--verison", "--version"), ("--hlep", "--help")):
            p = run(top, check=False)
            self.assert_usage_line(p, top)
            self.assertIn(f"did you mean '{real}'?", p.stderr)
        checked = 0
        for cmd in cmds:
            for typo in self.typos(cmd)[:2]:
                if typo in cmds:
                    continue
                for argv in ([typo], ["help", typo], ["help", "--man", typo]):
                    p = run(*argv, check=False)
                    self.assert_usage_line(p, " ".join(argv))
                    self.assertIn(f"did you mean '{cmd}'?", p.stderr, argv)
            text = run(cmd, "--help").stdout
            subs = self.subcommands(cmd, text)
            for sub in subs:
                for typo in self.typos(sub)[:2]:
                    if typo in subs:
                        continue
                    p = run(cmd, typo, check=False)
                    self.assert_usage_line(p, f"{cmd} {typo}")
                    self.assertIn(f"did you mean '{sub}'?", p.stderr, f"skylog {cmd} {typo}")
                    checked += 1
            if cmd == "version":
                continue
            body = text.split("\nexample", 1)[0]
            flags = sorted(set(re.findall(r"(?<![\w-])--([a-z][a-z-]+[a-z])", body)))
            for flag in flags:
                # getopt_long takes an unambiguous prefix for the option it begins ("--unti"
                # is --until, not a typo of --unit): such a typo is not one
                for typo in [t for t in self.typos(flag)
                             if not any(f.startswith(t) for f in flags)][:1]:
                    argv = [cmd, *self.PARSER_ARGS.get(cmd, []), "--" + typo]
                    if cmd == "help":
                        argv = [cmd, "--" + typo]
                    p = run(*argv, check=False)
                    self.assert_usage_line(p, " ".join(argv))
                    self.assertIn(f"did you mean '--{flag}'?", p.stderr, " ".join(argv))
                    checked += 1
        self.assertGreater(checked, 100)

    def test_every_usage_error_says_where_to_look(self):
        """A command or subcommand called without what it needs gets one line naming the help
        to read, never a bare complaint."""
        for argv in ([], ["metrics"], ["alarm"], ["config"], ["audit"], ["metrics", "--x"],
                     ["ship"], ["streams"], ["tail"], ["query"], ["groups", "extra"],
                     ["version", "extra"], ["config", "check"], ["audit", "verify"],
                     ["tail", "-g", "/g", "extra"], ["query", "fields @message"],
                     ["tail", "/g", "--since", "yesterday"],
                     ["query", "-g", "/g", "--since", "yesterday", "fields @message"],
                     ["metrics", "get", "-n", "N", "-m", "M", "--since", "yesterday"],
                     ["alarm", "history", "--since", "yesterday"],
                     ["config", "options", "clodwatch_logs"]):
            p = run(*argv, check=False)
            if not argv:  # the overview, on stderr
                self.assertEqual(p.returncode, 2)
                self.assertIn("usage: skylog <command>", p.stderr)
                continue
            self.assert_usage_line(p, "skylog " + " ".join(argv))
        p = run("groups", "extra", check=False)
        self.assertIn("'extra'", p.stderr)  # the argument it did not expect, named
        p = run("config", "options", "clodwatch_logs", check=False)
        self.assertIn("did you mean 'cloudwatch_logs'?", p.stderr)

    def test_options_are_one_column(self):
        """Every --help lists its options in one layout, the common AWS options' (column 24):
        a flag line whose text starts at column 24, or a flag too long for it alone on its
        line, and continuation lines at column 24. A command whose own options used another
        column printed the AWS options out of line with them."""
        for cmd in commands():
            text = run(cmd, "--help").stdout
            if "\noptions:\n" not in text:
                continue
            block = text.split("\noptions:\n", 1)[1].split("\n\n", 1)[0]
            prev_alone = False
            for line in block.splitlines():
                with self.subTest(command=cmd, line=line):
                    flag = re.match(r"(?:  -\w, |      )--\S", line)
                    if flag and len(line) > 24 and line[23] == " " and line[24] != " ":
                        prev_alone = False
                    elif flag and "  " not in line.strip():
                        prev_alone = True  # its text on the next line
                    else:
                        self.assertRegex(line, r"^ {24}\S", "not at column 24")
                        prev_alone = False
                    self.assertLessEqual(len(line), 92)
            self.assertFalse(prev_alone, f"{cmd}: a flag without text")

    def test_h_is_help_everywhere(self):
        """-h is --help for every command and subcommand form: on stdout, exit 0."""
        for cmd in commands():
            want = run(cmd, "--help").stdout
            forms = [[cmd, "-h"]] + [[cmd, sub, "-h"] for sub in self.subcommands(cmd, want)]
            for argv in forms:
                p = run(*argv, check=False)
                self.assertEqual((p.returncode, p.stdout), (0, want), argv)

    def test_one_concept_one_flag(self):
        """A user who learnt one command's flag uses it on the next: every command with a
        time range takes --since and --until, every one that prints records takes
        --output json, every one that reads a log group takes -g/--group. Each is listed by
        --help and taken by the parser (nothing listens on the endpoint: the command fails,
        exit 1, after its options were accepted; ship with no line to send exits 0).
        `--until now` too, the default every --until's help names."""
        dead = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_MAX_ATTEMPTS": "1",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(dead)
        cases = {
            "--since": [["tail", "/g"], ["query", "-g", "/g", "fields @message"],
                        ["metrics", "get", "-n", "N", "-m", "M"], ["alarm", "history", "a"]],
            "--until": [["tail", "/g"], ["query", "-g", "/g", "fields @message"],
                        ["metrics", "get", "-n", "N", "-m", "M"], ["alarm", "history", "a"]],
            "--output": [["tail", "/g"], ["query", "-g", "/g", "fields @message"],
                         ["metrics", "list"], ["alarm", "describe"], ["groups"],
                         ["streams", "/g"]],
            "--group": [["ship", "--give-up-after", "1", "-q", os.devnull], ["tail"], ["streams"], ["query", "fields @message"],
                        ["audit", "verify"]],
        }
        value = {"--since": "1h", "--until": "now", "--output": "json", "--group": "/g"}
        for flag, argvs in cases.items():
            for argv in argvs:
                with self.subTest(flag=flag, command=argv[:2]):
                    self.assertIn(flag, run(argv[0], "--help").stdout)
                    spellings = [flag, "-g"] if flag == "--group" else [flag]
                    if flag == "--output":
                        spellings.append("-o")
                    for sp in spellings:
                        p = subprocess.run([skyharness.skylog_bin(), *argv, sp, value[flag]],
                                           capture_output=True, text=True, env=env,
                                           stdin=subprocess.DEVNULL, timeout=120)
                        self.assertIn(p.returncode, (0, 1), f"{argv} {sp}: {p.stderr}")


if __name__ == "__main__":
    unittest.main()
