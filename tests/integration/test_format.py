"""`make format` (scripts/format.sh) formats the lines a branch changed, in the style of
.clang-format, and leaves every other line of the tree as it was written; `--diff` changes
nothing. Run on a throwaway git repository holding the project's .clang-format and a file in the
tree's hand-made style (a hand-wrapped call clang-format would join)."""
import os
import shutil
import subprocess
import tempfile
import unittest

SRC = os.environ.get("SKYLOG_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

ORIGINAL = """\
int f(int a, int b);

int g(int x)
{
    return f(x,
             x);
}
"""
CHANGED = ORIGINAL + """
int h(int y)
{
    if (y) return f(y,y);
    return 0;
}
"""
FORMATTED = ORIGINAL + """
int h(int y)
{
    if (y)
        return f(y, y);
    return 0;
}
"""


class Format(unittest.TestCase):
    def setUp(self):
        if not shutil.which("clang-format-14"):
            self.skipTest("clang-format-14 is not installed (scripts/deps.sh --format)")
        self.repo = tempfile.mkdtemp(prefix="skyformat.")
        self.addCleanup(shutil.rmtree, self.repo, True)
        os.makedirs(os.path.join(self.repo, "scripts"))
        shutil.copy(os.path.join(SRC, "scripts", "format.sh"), os.path.join(self.repo, "scripts"))
        shutil.copy(os.path.join(SRC, ".clang-format"), self.repo)
        self.c = os.path.join(self.repo, "a.c")
        self.write(ORIGINAL)
        self.git("init", "-q", "-b", "main")
        self.git("add", ".")
        self.git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
        self.git("checkout", "-qb", "work")
        self.write(CHANGED)

    def git(self, *args):
        subprocess.run(["git", *args], cwd=self.repo, check=True, capture_output=True)

    def write(self, text):
        with open(self.c, "w") as f:
            f.write(text)

    def read(self):
        with open(self.c) as f:
            return f.read()

    def format(self, *args):
        return subprocess.run(["bash", "scripts/format.sh", *args], cwd=self.repo,
                              capture_output=True, text=True, timeout=120)

    def test_diff_changes_nothing(self):
        p = self.format("--diff")
        self.assertIn("+        return f(y, y);", p.stdout, p.stderr)
        self.assertNotIn("f(x, x)", p.stdout)  # the line not changed is not proposed
        self.assertEqual(self.read(), CHANGED)

    def test_formats_only_the_changed_lines(self):
        p = self.format()
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read(), FORMATTED)  # g's hand-wrapped call kept


if __name__ == "__main__":
    unittest.main()
