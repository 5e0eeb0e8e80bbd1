"""skylog_build - the in-tree PEP 517 build backend of the skylog Python package.

Why in-tree: the machines skylog targets may have no package index and no `wheel` module, so
the usual setuptools route ("invalid command 'bdist_wheel'") is not available. A wheel is a
zip file with three metadata files, which is little enough to write here.

What it builds: one extension module, skylog/_skylog (the stable ABI, Py_LIMITED_API 3.10),
that contains libskylog itself: every src/**/*.c of the source tree this package sits in
(python/..) is compiled into it, so the installed package needs no installed libskylog and
always matches the tree. Only PyInit__skylog is exported (a version script), so a process may
also load another libskylog without symbol clashes. Sanitizers are never used here: an ASan
extension cannot be loaded into an ordinary python without LD_PRELOAD.

Environment:
    CC                   compiler (default cc)
    SKYLOG_PY_BUILD_DIR  where objects are kept between builds (default: a temporary directory)
    SKYLOG_PY_JOBS       parallel compiles (default 2)
    SKYLOG_PY_CFLAGS     extra compiler flags (e.g. "-O0 -g")
"""

import base64
import concurrent.futures
import glob
import hashlib
import os
import re
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

NAME = "skylog"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # python/
ROOT = os.path.dirname(HERE)  # the skylog source tree


def _header_version():
    """SKYLOG_VERSION of include/skylog.h: the package's version is the library's it contains
    (skylog.__version__ is the extension's sky_version(), so all three agree)."""
    path = os.path.join(ROOT, "include", "skylog.h")
    try:
        with open(path, encoding="utf-8") as f:
            m = re.search(r'^#define\s+SKYLOG_VERSION\s+"([0-9]+\.[0-9]+\.[0-9]+[^"]*)"', f.read(),
                          re.M)
    except OSError:
        m = None  # the no-sources error of _sources() says what is missing, when building
    return m.group(1) if m else "0"


VERSION = _header_version()
EXT_SUFFIX = ".abi3.so"
TAG = "cp310-abi3-" + sysconfig.get_platform().replace("-", "_").replace(".", "_")


def _pkg_config(args):
    try:
        out = subprocess.run(["pkg-config"] + args, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise RuntimeError(
            f"skylog: pkg-config {' '.join(args)} failed ({e}); run scripts/deps.sh "
            "(libjansson-dev, libyaml-dev, libcurl4-openssl-dev, libssl-dev, zlib1g-dev)"
        ) from e
    return shlex.split(out.stdout)


def _sources():
    lib = sorted(glob.glob(os.path.join(ROOT, "src", "*", "*.c")))
    if not lib or not os.path.isfile(os.path.join(ROOT, "include", "skylog.h")):
        raise RuntimeError(f"skylog: no libskylog sources under {ROOT}: build from a skylog source tree")
    return lib + [os.path.join(HERE, "skylog", "_skylog.c")]


def _newest_header():
    hs = glob.glob(os.path.join(ROOT, "include", "**", "*.h"), recursive=True)
    hs += glob.glob(os.path.join(ROOT, "src", "**", "*.h"), recursive=True)
    return max((os.path.getmtime(h) for h in hs), default=0)


def _run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"skylog: command failed: {' '.join(cmd)}\n{p.stdout}{p.stderr}")


def build_extension(out_path):
    cc = shlex.split(os.environ.get("CC") or "cc")
    build_dir = os.environ.get("SKYLOG_PY_BUILD_DIR") or tempfile.mkdtemp(prefix="skylog-py-")
    os.makedirs(build_dir, exist_ok=True)
    cflags = [
        "-std=c11", "-O2", "-g", "-fPIC", "-pthread", "-fvisibility=hidden", "-D_GNU_SOURCE",
        "-Wall", "-Wextra", "-Wno-missing-field-initializers",
        "-I" + os.path.join(ROOT, "include"), "-I" + os.path.join(ROOT, "src"),
        "-I" + sysconfig.get_paths()["include"],
    ] + _pkg_config(["--cflags", "jansson", "yaml-0.1", "libcurl", "zlib"])
    cflags += shlex.split(os.environ.get("SKYLOG_PY_CFLAGS", ""))
    headers = _newest_header()
    jobs = []
    objects = []
    for src in _sources():
        rel = os.path.relpath(src, ROOT).replace(os.sep, "_")
        obj = os.path.join(build_dir, rel[:-2] + ".o")
        objects.append(obj)
        lib = not src.endswith("_skylog.c")
        flags = cflags + (["-DSKY_BUILDING_LIBRARY"] if lib else [])
        cmd = cc + flags + ["-c", src, "-o", obj]
        stamp = obj + ".cmd"
        fresh = (os.path.exists(obj) and os.path.getmtime(obj) >= max(os.path.getmtime(src), headers)
                 and os.path.exists(stamp) and open(stamp).read() == " ".join(cmd))
        if not fresh:
            jobs.append((cmd, stamp))

    def compile_one(job):
        cmd, stamp = job
        _run(cmd)
        with open(stamp, "w") as f:
            f.write(" ".join(cmd))

    n = int(os.environ.get("SKYLOG_PY_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(max(1, n)) as pool:
        for _ in pool.map(compile_one, jobs):
            pass
    vscript = os.path.join(build_dir, "exports.map")
    with open(vscript, "w") as f:
        f.write("{ global: PyInit__skylog; local: *; };\n")
    libs = _pkg_config(["--libs", "jansson", "yaml-0.1", "zlib"]) + ["-ldl", "-lm", "-lpthread"]
    _run(cc + ["-shared", "-pthread", "-Wl,--version-script=" + vscript, "-Wl,-z,defs",
               "-o", out_path] + objects + libs + _python_link_flags())


def _python_link_flags():
    # -z defs wants every symbol resolved; CPython's come from the interpreter at load time,
    # so they are allowed to be undefined (libpython is not linked: it may be static).
    return ["-Wl,--unresolved-symbols=ignore-in-object-files"]


def _record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _metadata():
    readme = (
        "skylog for Python: logging.Handler and a watchtower-compatible CloudWatchLogHandler "
        "over libskylog.\n"
    )
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {VERSION}\n"
            "Summary: Structured logging to CloudWatch, formatting and sending in C\n"
            "Requires-Python: >=3.10\n\n" + readme)


def _dist_info_files():
    di = f"{NAME}-{VERSION}.dist-info"
    return {
        f"{di}/METADATA": _metadata().encode(),
        f"{di}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: skylog_build\nRoot-Is-Purelib: false\n"
                        f"Tag: {TAG}\n").encode(),
        f"{di}/top_level.txt": b"skylog\n",
    }, di


# ---- PEP 517 hooks ---------------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    files, di = _dist_info_files()
    for name, data in files.items():
        path = os.path.join(metadata_directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return di


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {}
    for py in sorted(glob.glob(os.path.join(HERE, "skylog", "*.py"))):
        with open(py, "rb") as f:
            files["skylog/" + os.path.basename(py)] = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        so = os.path.join(tmp, "_skylog" + EXT_SUFFIX)
        build_extension(so)
        with open(so, "rb") as f:
            files["skylog/_skylog" + EXT_SUFFIX] = f.read()
    meta, di = _dist_info_files()
    files.update(meta)
    record = [f"{name},{_record_hash(data)},{len(data)}" for name, data in files.items()]
    record.append(f"{di}/RECORD,,")
    files[f"{di}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel_name = f"{NAME}-{VERSION}-{TAG}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".so") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    raise RuntimeError("skylog: the Python package is built from the skylog source tree "
                       "(pip install ./python); there is no sdist")


if __name__ == "__main__":  # python3 _build/skylog_build.py OUT.so: the extension alone
    build_extension(sys.argv[1])
