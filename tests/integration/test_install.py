"""`cmake --install` produces what a consumer needs: headers, the library, the skylog command,
a relocatable pkg-config file and a CMake package (find_package(skylog)). Both ways of
consuming it build and run examples/basic.c."""
import os
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
SRC = os.environ.get("SKYLOG_SOURCE_DIR", "")


@unittest.skipUnless(BUILD and SRC and os.path.exists(os.path.join(BUILD, "CMakeCache.txt")),
                     "needs SKYLOG_BUILD_DIR and SKYLOG_SOURCE_DIR (run through ctest)")
class Install(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skylog-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.prefix = os.path.join(self.tmp, "prefix")
        subprocess.run(["cmake", "--install", BUILD, "--prefix", self.prefix], check=True,
                       capture_output=True)
        self.libdir = next(os.path.join(self.prefix, d) for d in ("lib", "lib64")
                           if os.path.isdir(os.path.join(self.prefix, d, "pkgconfig")))
        shutil.copy(os.path.join(SRC, "examples", "basic.c"), self.tmp)
        # sanitizer builds need the runtime in the consumer too
        self.flags = ["-fsanitize=address,undefined"] if os.environ.get(
            "SKYLOG_SANITIZE") == "address" else []

    def run_basic(self, exe):
        env = dict(os.environ, SKYLOG_FORMAT="logfmt", ASAN_OPTIONS="detect_leaks=0")
        p = subprocess.run([exe], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("msg=user_login user=alice id=42 ms=1.5", p.stderr)

    def test_layout(self):
        for rel in ("include/skylog.h", "include/skylog/cloudwatch.h", "include/skylog/aws.h",
                    "bin/skylog"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        self.assertTrue(os.path.exists(os.path.join(self.libdir, "cmake", "skylog",
                                                    "skylogConfig.cmake")))

    def test_pkg_config(self):
        if not shutil.which("pkg-config"):
            self.skipTest("pkg-config is not installed")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "skylog"], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        includes = [os.path.normpath(f[2:]) for f in flags if f.startswith("-I")]
        self.assertIn(os.path.join(self.prefix, "include"), includes)  # relocated prefix
        exe = os.path.join(self.tmp, "basic_pc")
        subprocess.run(["cc", "-std=c11", *self.flags, os.path.join(self.tmp, "basic.c"), *flags,
                        f"-Wl,-rpath,{self.libdir}", "-o", exe], check=True)
        self.run_basic(exe)

    def test_cmake_find_package(self):
        with open(os.path.join(self.tmp, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.22)\nproject(consumer C)\n"
                    "find_package(skylog REQUIRED)\nadd_executable(basic basic.c)\n"
                    f"target_compile_options(basic PRIVATE {' '.join(self.flags)})\n"
                    f"target_link_options(basic PRIVATE {' '.join(self.flags)})\n"
                    "target_link_libraries(basic PRIVATE skylog::skylog)\n")
        b = os.path.join(self.tmp, "b")
        subprocess.run(["cmake", "-S", self.tmp, "-B", b, f"-DCMAKE_PREFIX_PATH={self.prefix}"],
                       check=True, capture_output=True)
        subprocess.run(["cmake", "--build", b], check=True, capture_output=True)
        self.run_basic(os.path.join(b, "basic"))


if __name__ == "__main__":
    unittest.main()
