"""`cmake --install` produces what a consumer needs: headers, the library, the skylog command
(and skylog-serve in libexec/skylog, which `skylog serve` runs), a relocatable pkg-config file and a CMake package (find_package(skylog)). Every way of
consuming it (pkg-config, pkg-config --static, the CMake targets skylog::skylog and
skylog::skylog_static) builds and runs examples/basic.c, and the install says what a prefix
outside the system's search paths needs."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
SRC = os.environ.get("SKYLOG_SOURCE_DIR", "")


def header_define(name):
    """A version macro of include/skylog.h: SKYLOG_VERSION's string, or a number as text."""
    with open(os.path.join(SRC, "include", "skylog.h")) as f:
        for line in f:
            if line.startswith(f"#define {name} "):
                return line.split(None, 2)[2].strip().strip('"')
    raise AssertionError(f"include/skylog.h has no {name}")


@unittest.skipUnless(BUILD and SRC and os.path.exists(os.path.join(BUILD, "CMakeCache.txt")),
                     "needs SKYLOG_BUILD_DIR and SKYLOG_SOURCE_DIR (run through ctest)")
class Install(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skylog-install-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.prefix = os.path.join(self.tmp, "prefix")
        p = subprocess.run(["cmake", "--install", BUILD, "--prefix", self.prefix], check=True,
                           capture_output=True, text=True, env=dict(os.environ, DESTDIR=""))
        self.install_log = p.stdout + p.stderr
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
                    "bin/skylog", "libexec/skylog/skylog-serve"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, rel)), rel)
        self.assertTrue(os.path.exists(os.path.join(self.libdir, "cmake", "skylog",
                                                    "skylogConfig.cmake")))

    def test_documents_named_by_help_are_installed(self):
        """Every docs/X.md a --help (so a man page) names is installed where `skylog --help`
        says: an installed user has no source tree to read them in."""
        skylog = os.path.join(self.prefix, "bin", "skylog")
        overview = subprocess.run([skylog, "--help"], capture_output=True, text=True,
                                  timeout=60).stdout
        self.assertIn("share/doc/skylog/docs/", overview)
        texts = [overview]
        for line in overview.split("commands:\n", 1)[1].split("\n\n", 1)[0].splitlines():
            texts.append(subprocess.run([skylog, line.split()[0], "--help"], capture_output=True,
                                        text=True, timeout=60).stdout)
        named = set()
        for t in texts:
            named |= set(re.findall(r"docs/[A-Za-z_]+\.md", t))
        self.assertIn("docs/SERVE.md", named)
        for doc in sorted(named) + ["README.md"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, "share", "doc", "skylog",
                                                        doc)), doc)

    def start_serve(self, skylog, data):
        """`skylog serve` from an installed tree; returns (process, its first stdout line)."""
        p = subprocess.Popen([skylog, "serve", "--port", "0", "--auth", "none", "--data", data],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait(), p.stdout.close(),
                                 p.stderr.close()))
        return p, p.stdout.readline().strip()

    def test_serve_runs_the_installed_server_program(self):
        """`skylog serve` execs libexec/skylog/skylog-serve with its arguments: the same
        process (a pid that whoever started it can signal), the server's URL, its exit status
        on SIGTERM; also when the installed tree was moved elsewhere."""
        moved = os.path.join(self.tmp, "moved")
        shutil.copytree(self.prefix, moved, symlinks=True)
        for prefix in (self.prefix, moved):
            p, url = self.start_serve(os.path.join(prefix, "bin", "skylog"),
                                      os.path.join(self.tmp, "data-" + os.path.basename(prefix)))
            self.assertTrue(url.startswith("http://127.0.0.1:"), url)
            self.assertEqual(os.path.realpath(f"/proc/{p.pid}/exe"),
                             os.path.realpath(os.path.join(prefix, "libexec", "skylog",
                                                           "skylog-serve")))
            p.terminate()
            self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())

    def test_skylog_does_not_map_the_server_libraries(self):
        """Only skylog-serve links libmicrohttpd and SQLite (ship and tail never map them),
        and `skylog` exports the symbol that keeps GnuTLS, which libcurl drags in, from
        initialising itself (cli/main.c)."""
        skylog = os.path.join(self.prefix, "bin", "skylog")
        serve = os.path.join(self.prefix, "libexec", "skylog", "skylog-serve")
        for lib in ("libmicrohttpd", "libsqlite3"):
            self.assertFalse([n for n in self.needed(skylog) if n.startswith(lib)], lib)
            self.assertTrue([n for n in self.needed(serve) if n.startswith(lib)], lib)
        syms = subprocess.run(["nm", "-D", "--defined-only", skylog], check=True,
                              capture_output=True, text=True).stdout
        self.assertIn(" _gnutls_global_init_skip", syms)

    def test_serve_without_the_server_program(self):
        """A `skylog` copied alone: serve says what is missing and where it looked, exits 1;
        its help needs no server."""
        lone = os.path.join(self.tmp, "lone")
        os.mkdir(lone)
        shutil.copy(os.path.join(self.prefix, "bin", "skylog"), lone)
        skylog = os.path.join(lone, "skylog")
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            configured = next(l.split("=", 1)[1].strip() for l in f
                              if l.startswith("CMAKE_INSTALL_PREFIX:"))
        if os.path.exists(os.path.join(configured, "libexec", "skylog", "skylog-serve")):
            self.skipTest(f"make install put a skylog-serve in {configured}: it would be found")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        h = subprocess.run([skylog, "serve", "--help"], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(h.returncode, 0, h.stderr)
        self.assertIn("usage: skylog serve", h.stdout)
        p = subprocess.run([skylog, "serve", "--port", "0"], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("skylog serve: the server program skylog-serve is not installed", p.stderr)
        self.assertIn(os.path.join(lone, "skylog-serve"), p.stderr)

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

    def test_soname_and_versions_are_what_the_docs_say(self):
        """docs/COMPATIBILITY.md names the SONAME, libskylog.so.<SKYLOG_ABI_VERSION>: the
        installed library carries it, the files are named after it, a program linked with
        -lskylog records it; pkg-config --modversion and the CMake package's version are
        SKYLOG_VERSION, as are sky_version() and sky_abi_version() at run time, and
        `skylog version` / `skylog --version`. One number for users: the release's major is the
        ABI version, so the file is libskylog.so.<SKYLOG_VERSION>."""
        abi, version = header_define("SKYLOG_ABI_VERSION"), header_define("SKYLOG_VERSION")
        self.assertEqual(version.split(".")[0], abi)
        with open(os.path.join(SRC, "docs", "COMPATIBILITY.md")) as f:
            doc = f.read()
        soname = f"libskylog.so.{abi}"
        self.assertIn(f"SONAME, `{soname}`", doc)
        self.assertIn(f"`SKYLOG_ABI_VERSION` (`{abi}`)", doc)
        self.assertIn(f"`SKYLOG_VERSION` (`{version}`)", doc)
        real = os.path.join(self.libdir, f"libskylog.so.{version}")
        self.assertTrue(os.path.isfile(real) and not os.path.islink(real), real)
        self.assertEqual(os.path.realpath(os.path.join(self.libdir, soname)), real)
        self.assertEqual(os.path.realpath(os.path.join(self.libdir, "libskylog.so")), real)
        out = subprocess.run(["readelf", "-d", real], check=True, capture_output=True,
                             text=True).stdout
        sonames = [l.split("[", 1)[1].split("]", 1)[0] for l in out.splitlines()
                   if "(SONAME)" in l]
        self.assertEqual(sonames, [soname])
        if shutil.which("pkg-config"):
            env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
            mv = subprocess.run(["pkg-config", "--modversion", "skylog"], env=env, check=True,
                                capture_output=True, text=True).stdout.strip()
            self.assertEqual(mv, version)
        with open(os.path.join(self.libdir, "cmake", "skylog", "skylogConfigVersion.cmake")) as f:
            self.assertIn(f'set(PACKAGE_VERSION "{version}")', f.read())
        src = os.path.join(self.tmp, "version.c")
        with open(src, "w") as f:
            f.write("#include <skylog.h>\n#include <stdio.h>\n"
                    "int main(void)\n{\n"
                    "    printf(\"%s %d\\n\", sky_version(), sky_abi_version());\n"
                    "    return 0;\n}\n")
        exe = os.path.join(self.tmp, "version")
        subprocess.run(["cc", "-std=c11", *self.flags, src, f"-I{self.prefix}/include",
                        f"-L{self.libdir}", "-lskylog", f"-Wl,-rpath,{self.libdir}", "-o", exe],
                       check=True)
        self.assertIn(soname, self.needed(exe))
        p = subprocess.run([exe], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(p.stdout, f"{version} {abi}\n", p.stderr)
        for args in (["version"], ["--version"]):
            p = subprocess.run([os.path.join(self.prefix, "bin", "skylog"), *args],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
            self.assertEqual((p.returncode, p.stdout), (0, f"skylog {version}\n"), p.stderr)

    def test_cmake_version_requests(self):
        """find_package(skylog X.Y): any release of the same major from X.Y on (one ABI: an
        older request runs with this library), never another major, never a newer request."""
        major, minor, _ = (int(x) for x in header_define("SKYLOG_VERSION").split("."))
        cases = [(f"{major}.0", True), (f"{major}.{minor}", True),
                 (f"{major}.{minor + 1}", False), (f"{major + 1}.0", False)]
        if major > 0:
            cases.append((f"{major - 1}.{minor}", False))
        for i, (req, ok) in enumerate(cases):
            with self.subTest(request=req):
                d = os.path.join(self.tmp, f"v{i}")
                os.makedirs(d)
                with open(os.path.join(d, "CMakeLists.txt"), "w") as f:
                    f.write("cmake_minimum_required(VERSION 3.22)\nproject(consumer C)\n"
                            f"find_package(skylog {req} REQUIRED)\n")
                p = subprocess.run(["cmake", "-S", d, "-B", os.path.join(d, "b"),
                                    f"-DCMAKE_PREFIX_PATH={self.prefix}"],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode == 0, ok, p.stdout + p.stderr)

    def needed(self, exe):
        """The shared libraries an executable names (DT_NEEDED)."""
        out = subprocess.run(["readelf", "-d", exe], check=True, capture_output=True,
                             text=True).stdout
        return [l.split("[", 1)[1].split("]", 1)[0] for l in out.splitlines() if "(NEEDED)" in l]

    def test_install_says_what_a_prefix_needs(self):
        """A prefix the dynamic linker and pkg-config do not search: cmake --install says what
        to set (for /usr/local it runs ldconfig instead: cmake/postinstall.cmake)."""
        self.assertIn(f"-Wl,-rpath,{self.libdir}", self.install_log)
        self.assertIn(f"LD_LIBRARY_PATH={self.libdir}", self.install_log)
        self.assertIn(f"PKG_CONFIG_PATH={self.libdir}/pkgconfig", self.install_log)

    def test_pkg_config_static(self):
        """pkg-config --static lists everything libskylog.a needs: a program linked with
        libskylog.a and those flags links and runs without libskylog.so."""
        if not shutil.which("pkg-config"):
            self.skipTest("pkg-config is not installed")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--static", "--cflags", "--libs", "skylog"],
                               env=env, check=True, capture_output=True, text=True).stdout.split()
        self.assertIn("-lskylog", flags)
        flags = [os.path.join(self.libdir, "libskylog.a") if f == "-lskylog" else f
                 for f in flags]
        exe = os.path.join(self.tmp, "basic_static")
        p = subprocess.run(["cc", "-std=c11", *self.flags, os.path.join(self.tmp, "basic.c"),
                            *flags, "-o", exe], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse([n for n in self.needed(exe) if n.startswith("libskylog")])
        self.run_basic(exe)

    def test_static_default_pipeline(self):
        """A program linked with libskylog.a that only ever logs through the default pipeline
        (a NULL sky_t) gets it configured from the environment: the configuration layer is
        linked in by the call itself, not by a constructor a static link would leave out."""
        if not shutil.which("pkg-config"):
            self.skipTest("pkg-config is not installed")
        src = os.path.join(self.tmp, "default_only.c")
        with open(src, "w") as f:
            f.write("#include <skylog.h>\n"
                    "int main(void)\n{\n"
                    "    if (sky_set_level(NULL, \"app\", SKY_LEVEL_DEBUG) != SKY_OK)\n"
                    "        return 3;\n"
                    "    sky_logger *log = sky_logger_get(NULL, \"app\");\n"
                    "    sky_debug(log, \"static_default\", SKY_STR(\"via\", \"null\"));\n"
                    "    return sky_flush(sky_default(), 5000) == SKY_OK ? 0 : 4;\n}\n")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--static", "--cflags", "--libs", "skylog"],
                               env=env, check=True, capture_output=True, text=True).stdout.split()
        flags = [os.path.join(self.libdir, "libskylog.a") if f == "-lskylog" else f
                 for f in flags]
        exe = os.path.join(self.tmp, "default_only")
        p = subprocess.run(["cc", "-std=c11", *self.flags, src, *flags, "-o", exe],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse([n for n in self.needed(exe) if n.startswith("libskylog")])
        run_env = dict(os.environ, SKYLOG_FORMAT="logfmt", ASAN_OPTIONS="detect_leaks=0")
        p = subprocess.run([exe], capture_output=True, text=True, env=run_env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("msg=static_default via=null", p.stderr)
        # a bad variable: the default pipeline still logs (to stderr) and says why once
        run_env["SKYLOG_LEVLE"] = "debug"
        p = subprocess.run([exe], capture_output=True, text=True, env=run_env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("SKYLOG_LEVEL", p.stderr)
        self.assertIn("static_default", p.stderr)

    def test_cmake_find_package(self):
        """find_package(skylog) from the installed tree: both targets link and run, the
        static one without libskylog.so (its dependencies come from the package's config)."""
        with open(os.path.join(self.tmp, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.22)\nproject(consumer C)\n"
                    "find_package(skylog REQUIRED COMPONENTS shared static)\n"
                    "foreach(t skylog skylog_static)\n"
                    "  add_executable(basic_${t} basic.c)\n"
                    f"  target_compile_options(basic_${{t}} PRIVATE {' '.join(self.flags)})\n"
                    f"  target_link_options(basic_${{t}} PRIVATE {' '.join(self.flags)})\n"
                    "  target_link_libraries(basic_${t} PRIVATE skylog::${t})\n"
                    "endforeach()\n")
        b = os.path.join(self.tmp, "b")
        for step in (["cmake", "-S", self.tmp, "-B", b, f"-DCMAKE_PREFIX_PATH={self.prefix}"],
                     ["cmake", "--build", b]):
            p = subprocess.run(step, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        shared, static = os.path.join(b, "basic_skylog"), os.path.join(b, "basic_skylog_static")
        self.assertIn(f"libskylog.so.{header_define('SKYLOG_ABI_VERSION')}", self.needed(shared))
        self.assertFalse([n for n in self.needed(static) if n.startswith("libskylog")])
        for exe in (shared, static):
            self.run_basic(exe)

    def test_readme_cmake_block(self):
        """The README's CMake lines, as written, around an add_executable(app ...)."""
        with open(os.path.join(SRC, "README.md")) as f:
            readme = f.read()
        block = readme.split("```cmake\n", 1)[1].split("```", 1)[0]
        with open(os.path.join(self.tmp, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.22)\nproject(app C)\n"
                    "add_executable(app basic.c)\n"
                    f"target_compile_options(app PRIVATE {' '.join(self.flags)})\n"
                    f"target_link_options(app PRIVATE {' '.join(self.flags)})\n" + block)
        b = os.path.join(self.tmp, "b")
        for step in (["cmake", "-S", self.tmp, "-B", b, f"-DCMAKE_PREFIX_PATH={self.prefix}"],
                     ["cmake", "--build", b]):
            p = subprocess.run(step, capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.run_basic(os.path.join(b, "app"))

    def test_cmake_unknown_component(self):
        with open(os.path.join(self.tmp, "CMakeLists.txt"), "w") as f:
            f.write("cmake_minimum_required(VERSION 3.22)\nproject(consumer C)\n"
                    "find_package(skylog REQUIRED COMPONENTS plugins)\n")
        p = subprocess.run(["cmake", "-S", self.tmp, "-B", os.path.join(self.tmp, "b"),
                            f"-DCMAKE_PREFIX_PATH={self.prefix}"], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("skylog", p.stderr)

    def test_plugin_dlopened(self):
        """A shared object that logs, loaded with dlopen() by a program that does not link
        libskylog: its call sites read libskylog's thread-local context depth with the
        initial-exec model (skylog.h), which must not keep it from loading, and take the
        inlined fast path from their second call."""
        if not shutil.which("pkg-config"):
            self.skipTest("pkg-config is not installed")
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "skylog"], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        plug_c, host_c = os.path.join(self.tmp, "plug.c"), os.path.join(self.tmp, "host.c")
        with open(plug_c, "w") as f:
            f.write(PLUGIN_C)
        with open(host_c, "w") as f:
            f.write(HOST_C)
        plug, host = os.path.join(self.tmp, "plug.so"), os.path.join(self.tmp, "host")
        subprocess.run(["cc", "-std=c11", "-O2", "-fPIC", "-shared", *self.flags, plug_c, *flags,
                        f"-Wl,-rpath,{self.libdir}", "-o", plug], check=True)
        subprocess.run(["cc", "-std=c11", *self.flags, host_c, "-ldl", "-o", host], check=True)
        out = os.path.join(self.tmp, "events.log")
        p = subprocess.run([host, plug, out], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 1000)
        for i, line in enumerate(lines):
            self.assertTrue(line.endswith(f',"i":{i},"who":"plugin"}}'), line)


PLUGIN_C = r"""
#include <skylog.h>
int plug_run(const char *path)
{
    sky_t *sky = NULL;
    sky_sink *file = NULL;
    if (sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky) != SKY_OK ||
        sky_sink_file(&(sky_file_opts){.path = path}, &file, NULL) != SKY_OK ||
        sky_add_sink(sky, file, NULL) != SKY_OK)
        return 1;
    sky_logger *log = sky_logger_get(sky, "plug");
    for (int i = 0; i < 1000; i++)
        sky_info(log, "tick", SKY_INT("i", i), SKY_STR("who", "plugin"));
    return sky_close(sky) != SKY_OK;
}
"""

HOST_C = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    (void)argc;
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        printf("dlopen: %s\n", dlerror());
        return 2;
    }
    int (*run)(const char *) = (int (*)(const char *))dlsym(h, "plug_run");
    return run ? run(argv[2]) : 3;
}
"""

if __name__ == "__main__":
    unittest.main()
