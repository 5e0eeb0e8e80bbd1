"""The skylog Python package, as a user installs it: `pip install --no-build-isolation
--no-index ./python` into a fresh venv (and into a user site), then its unittest suites
(python/tests/) run in that venv, against the `skylog` binary of this build for the end-to-end
suite.

The extension is built by python/_build/skylog_build.py without sanitizers, also in the ASan
build: an ASan-instrumented extension cannot be loaded into an ordinary python without
LD_PRELOAD of the ASan runtime. The library code it contains is the code the ASan unit and
integration tests check. Objects are kept in $SKYLOG_BUILD_DIR/python-ext between runs.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("SKYLOG_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
PKG = os.path.join(SOURCE, "python")


def build_env():
    env = dict(os.environ)
    build = os.environ.get("SKYLOG_BUILD_DIR")
    if build:
        env["SKYLOG_PY_BUILD_DIR"] = os.path.join(build, "python-ext")
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for k in ("PYTHONPATH", "PYTHONUSERBASE", "PIP_USER"):
        env.pop(k, None)
    return env


def run(test, cmd, env, timeout=1200):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    test.assertEqual(p.returncode, 0, f"{' '.join(cmd)}\n{p.stdout[-6000:]}\n{p.stderr[-6000:]}")
    return p


class PythonPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="skylog-pytest-")
        cls.venv = os.path.join(cls.tmp, "venv")
        # --system-site-packages: boto3 (the read-back client) stays visible
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", cls.venv],
                       check=True, timeout=600)
        cls.python = os.path.join(cls.venv, "bin", "python")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def install(self, python, *extra, env=None):
        return run(self, [python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                          "--no-cache-dir", *extra, PKG], env or build_env())

    def test_1_venv_install_and_suites(self):
        self.install(self.python)
        env = build_env()
        env["PYTHONPATH"] = HERE  # skyharness, for the end-to-end suite
        p = subprocess.run([self.python, "-m", "unittest", "discover", "-v", "-s",
                            os.path.join(PKG, "tests"), "-t", os.path.join(PKG, "tests")],
                           env=env, capture_output=True, text=True, timeout=1500,
                           cwd=self.tmp)  # never import skylog from the source tree
        sys.stderr.write(p.stderr[-20000:])
        self.assertEqual(p.returncode, 0, p.stderr[-6000:])
        # the end-to-end suite must have run (SKYLOG_BIN is set by ctest); the optional test
        # doubles and clients (Flask, moto, boto3) may be absent: their tests say so when skipped
        optional = ("Flask", "moto is not installed", "boto3 is not installed")
        skipped = [l for l in p.stderr.splitlines()
                   if " ... skipped" in l and not any(o in l for o in optional)]
        self.assertEqual(skipped, [], "tests were skipped")
        out = run(self, [self.python, "-c", "import skylog, sys; print(skylog.__file__)"], env)
        self.assertTrue(out.stdout.strip().startswith(self.venv), out.stdout)
        self.check_versions(self.python, env)

    def check_versions(self, python, env):
        """One version, the header's SKYLOG_VERSION: the installed distribution's (the build
        script reads the header), skylog.__version__ and LIBSKYLOG_VERSION (sky_version() of
        the library in the extension); pyproject.toml leaves it to the build."""
        with open(os.path.join(SOURCE, "include", "skylog.h")) as f:
            header = re.search(r'^#define SKYLOG_VERSION "([^"]+)"', f.read(), re.M).group(1)
        out = run(self, [python, "-c", "import importlib.metadata as m, skylog; print("
                         "m.version('skylog'), skylog.__version__, skylog.LIBSKYLOG_VERSION)"],
                  env)
        self.assertEqual(out.stdout.split(), [header] * 3)
        with open(os.path.join(PKG, "pyproject.toml"), "rb") as f:
            project = tomllib.load(f)["project"]
        self.assertNotIn("version", project)
        self.assertIn("version", project["dynamic"])

    def test_2_user_site_install(self):
        env = build_env()
        env["PYTHONUSERBASE"] = os.path.join(self.tmp, "userbase")
        self.install(sys.executable, "--user", "--ignore-installed", env=env)
        env.pop("PYTHONNOUSERSITE", None)
        out = run(self, [sys.executable, "-c",
                         "import skylog; print(skylog.__file__, skylog.LIBSKYLOG_VERSION)"], env)
        self.assertTrue(out.stdout.startswith(env["PYTHONUSERBASE"]), out.stdout)
        self.check_versions(sys.executable, env)

    def test_3_no_source_tree_is_a_clear_error(self):
        # the package alone (an sdist-like copy without the library) says what is missing
        copy = os.path.join(self.tmp, "alone")
        shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("tests", "__pycache__"))
        p = subprocess.run([self.python, "-m", "pip", "install", "--no-build-isolation",
                            "--no-index", "--no-cache-dir", copy], env=build_env(),
                           capture_output=True, text=True, timeout=600)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no libskylog sources", p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main()
