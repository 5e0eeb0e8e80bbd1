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


if __name__ == "__main__":
    unittest.main()
