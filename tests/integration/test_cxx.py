"""skylog.h (and include/skylog/*.h) is usable from C++17: examples/cpp_basic.cpp compiles
warning-free with every C++ compiler on the machine (g++, clang++) under -Wall -Wextra
-Wpedantic -Werror, links against the library and logs what it says, and C and C++ see the
same layout for the structures call sites share with the library."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
SRC = os.environ.get("SKYLOG_SOURCE_DIR", "")
SANITIZE = os.environ.get("SKYLOG_SANITIZE", "")
CXXFLAGS = ["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
HEADERS = ["skylog.h", "skylog/cloudwatch.h", "skylog/aws.h", "skylog/config.h", "skylog/metrics.h"]


def compilers():
    return [c for c in ("g++", "clang++") if shutil.which(c)]


def sanitizer_flags():
    # the consumer of a sanitized library needs the same runtime (GCC's: the library's compiler)
    return {"address": ["-fsanitize=address,undefined"],
            "thread": ["-fsanitize=thread"]}.get(SANITIZE, [])


def check_events(test, path):
    """What examples/cpp_basic.cpp promises in its comments, from its JSON lines."""
    with open(path) as f:
        ev = [json.loads(line) for line in f]
    test.assertTrue(all(e["logger"] == "shop.cpp" for e in ev))
    top = [e for e in ev if e["message"] != "tick"]
    test.assertEqual([e["message"] for e in top],
                     ["started", "no_fields", "cart", "open_failed", "checkout_done",
                      "checkout_failed"])
    test.assertEqual(top[0]["version"], "1.2.3")
    test.assertIs(top[0]["ready"], True)
    test.assertEqual(top[2]["total"], "41.50 EUR")  # a lazy field
    test.assertEqual(top[2]["ms"], 1.5)
    test.assertEqual(top[3]["error"], "ENOENT: No such file or directory")
    test.assertEqual((top[4]["user"], top[4]["items"]), ("alice", 3))  # SKY_WITH_CONTEXT
    # the exception left bob's context: the destructor popped it
    test.assertEqual(top[5]["why"], "empty cart")
    test.assertNotIn("user", top[5])
    test.assertNotIn("items", top[5])
    for w in (0, 1):  # SKY_BIND in two threads; each thread's events in order
        ticks = [e["i"] for e in ev if e["message"] == "tick" and e["worker"] == w]
        test.assertEqual(ticks, list(range(100)))
    test.assertFalse([e for e in ev if e["message"] == "below_level"])


def run_example(test, exe):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "events.jsonl")
        p = subprocess.run([exe, out], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        test.assertEqual(p.returncode, 0, p.stderr)
        check_events(test, out)


@unittest.skipUnless(SRC, "needs SKYLOG_SOURCE_DIR (run through ctest)")
class Cxx(unittest.TestCase):
    def setUp(self):
        if not compilers():
            self.skipTest("no C++ compiler on this machine")
        self.tmp = tempfile.mkdtemp(prefix="skylog-cxx-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.inc = os.path.join(SRC, "include")

    def test_every_header_compiles_alone(self):
        for cxx in compilers():
            for h in HEADERS:
                with self.subTest(cxx=cxx, header=h):
                    src = os.path.join(self.tmp, "h.cpp")
                    with open(src, "w") as f:
                        f.write(f"#include <{h}>\nint main() {{ return 0; }}\n")
                    p = subprocess.run([cxx, *CXXFLAGS, "-fsyntax-only", "-I", self.inc, src],
                                       capture_output=True, text=True)
                    self.assertEqual(p.returncode, 0, p.stderr)

    def test_example_with_each_compiler(self):
        """Compiled by each compiler, linked against the build's libskylog, run."""
        lib = os.path.join(BUILD, "libskylog.so")
        if not os.path.exists(lib):
            self.skipTest("libskylog.so not built (set SKYLOG_BUILD_DIR)")
        example = os.path.join(SRC, "examples", "cpp_basic.cpp")
        for cxx in compilers():
            with self.subTest(cxx=cxx):
                obj = os.path.join(self.tmp, f"cpp_basic.{cxx}.o")
                exe = os.path.join(self.tmp, f"cpp_basic.{cxx}")
                # the object is this compiler's; the link is by g++ when the library carries
                # GCC's sanitizer runtime (uninstrumented objects link into it fine)
                own = sanitizer_flags() if cxx == "g++" else []
                p = subprocess.run([cxx, *CXXFLAGS, *own, "-c", "-I", self.inc, example,
                                    "-o", obj], capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                linker = "g++" if sanitizer_flags() and shutil.which("g++") else cxx
                p = subprocess.run([linker, *sanitizer_flags(), obj, lib,
                                    f"-Wl,-rpath,{BUILD}", "-pthread", "-o", exe],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                run_example(self, exe)

    def test_cmake_built_example(self):
        exe = os.path.join(BUILD, "example_cpp_basic")
        if not os.path.exists(exe):
            self.skipTest("example_cpp_basic not built")
        run_example(self, exe)

    def test_shared_layout_matches_c(self):
        """The structures a call site reads in place (a logger's level, a site's schema) have
        the same size and offsets in C (where they are _Atomic) and in C++ (plain members)."""
        if not shutil.which("cc"):
            self.skipTest("no C compiler")
        src = os.path.join(self.tmp, "layout.c")
        with open(src, "w") as f:
            f.write(LAYOUT)
        outs = {}
        for lang, cc, std in [("c", "cc", "-std=c11"),
                              *[(cxx, cxx, "-std=c++17") for cxx in compilers()]]:
            exe = os.path.join(self.tmp, f"layout_{lang}")
            args = [cc, std, "-I", self.inc, "-o", exe]
            if lang != "c":
                args += ["-x", "c++"]
            subprocess.run(args + [src], check=True)
            outs[lang] = subprocess.run([exe], check=True, capture_output=True,
                                        text=True).stdout
        self.assertIn("logger_hdr", outs["c"])
        for lang, out in outs.items():
            self.assertEqual(out, outs["c"], lang)


LAYOUT = r"""
#include <skylog.h>
#include <stdio.h>
#define SHOW(T, m) printf(#T "." #m " %zu %zu %zu\n", sizeof(T), offsetof(T, m), _Alignof(T))
#ifdef __cplusplus
#undef SHOW
#define SHOW(T, m) printf(#T "." #m " %zu %zu %zu\n", sizeof(T), offsetof(T, m), alignof(T))
#endif
typedef struct sky__logger_hdr logger_hdr;
int main(void)
{
    SHOW(logger_hdr, level);
    SHOW(logger_hdr, fast);
    SHOW(sky__site, cs);
    SHOW(sky__site, schema);
    SHOW(sky_field, v);
    return 0;
}
"""

if __name__ == "__main__":
    unittest.main()
