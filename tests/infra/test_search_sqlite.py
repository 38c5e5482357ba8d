"""Search's SQLite on Lambda: the dependencies layer, built as for deployment, ships an aarch64 SQLite with
FTS5 (sqlean.py's wheel), that very library runs the index's schema and a search, and an aarch64 CPython
3.13 importing the layer's sqlean passes the index's unit tests.

Running them needs an arm64 machine or qemu: `qemu-aarch64-static` (or `qemu-aarch64`) on PATH, plus
`aarch64-linux-gnu-gcc` for the first (Debian: `apt-get install qemu-user-static gcc-aarch64-linux-gnu`;
tests/run.sh does it when run as root). There a small C program loads the layer's `_sqlite3…aarch64….so`
under qemu and drives SQLite's C API; the Python symbols the extension module refers to are satisfied by a
generated stub library (nothing calls them: only SQLite runs). The second runs Debian 13's arm64 python3.13
(tests/support/arm64_python.sh fetches it with apt, about 18 MB, once per machine). Without those tools
they are skipped, or fail with PARLEY_REQUIRE_ARM64=1 (as CI sets); the static checks always run.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from shared.storage import search_index
from tests.support.arm64 import ELF_MACHINE_AARCH64, Arm64Python, elf_machine, missing, tool

pytestmark = pytest.mark.infra

_RUNNER = r"""
#include <dlfcn.h>
#include <stdio.h>
typedef int (*open_fn)(const char *, void **);
typedef int (*exec_fn)(void *, const char *, int (*)(void *, int, char **, char **), void *, char **);
static int row(void *unused, int n, char **values, char **names) {
    for (int i = 0; i < n; i++) printf("%s%s", i ? "\t" : "", values[i] ? values[i] : "NULL");
    printf("\n");
    return 0;
}
int main(int argc, char **argv) {  /* argv[1]: the library; then SQL scripts, run in order */
    setvbuf(stdout, 0, _IONBF, 0);
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { printf("dlopen failed: %s\n", dlerror()); return 2; }
    open_fn open_db = (open_fn)dlsym(lib, "sqlite3_open");
    exec_fn exec = (exec_fn)dlsym(lib, "sqlite3_exec");
    void *db; char *error = 0;
    if (open_db(":memory:", &db)) { printf("open failed\n"); return 3; }
    for (int i = 2; i < argc; i++) {
        if (exec(db, argv[i], row, 0, &error)) { printf("error: %s\n", error); return 4; }
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def layer_sqlite(dependencies_layer: Path) -> Path:
    """The SQLite library in the dependencies layer, built by layers/build.py as `cdk synth` builds it."""
    (library,) = (dependencies_layer / "sqlean").glob("_sqlite3.cpython-313-aarch64-linux-gnu.so")
    return library


def test_the_layer_ships_an_aarch64_sqlite_with_fts5_compiled_in(layer_sqlite: Path) -> None:
    data = layer_sqlite.read_bytes()
    assert elf_machine(layer_sqlite) == ELF_MACHINE_AARCH64
    assert b"ENABLE_FTS5\x00" in data  # the compile option, as `PRAGMA compile_options` lists it
    assert b"fts5: syntax error near" in data and b"unicode61" in data and b"remove_diacritics" in data
    (wheel,) = layer_sqlite.parent.parent.glob("sqlean_py-*.dist-info/WHEEL")
    # Lambda's Amazon Linux 2023 has glibc 2.34: manylinux_2_28 runs there.
    assert "cp313-cp313-manylinux_2_28_aarch64" in wheel.read_text()


def test_the_layers_sqlite_runs_the_index_and_a_search_on_aarch64(layer_sqlite: Path, tmp_path: Path) -> None:
    qemu, gcc = tool("qemu-aarch64-static", "qemu-aarch64"), tool("aarch64-linux-gnu-gcc")
    if not (qemu and gcc):
        missing("needs qemu-aarch64(-static) and aarch64-linux-gnu-gcc (apt-get install qemu-user-static gcc-aarch64-linux-gnu)")
    nm = tool("aarch64-linux-gnu-nm", "nm")
    undefined = subprocess.run([nm, "-D", "--undefined-only", str(layer_sqlite)], capture_output=True, text=True, check=True)
    python_symbols = [line.split()[-1] for line in undefined.stdout.splitlines() if line.split()[-1].lstrip("_").startswith("Py")]
    (tmp_path / "stub.c").write_text("".join(f"char {name}[64];\n" for name in python_symbols))
    (tmp_path / "run.c").write_text(_RUNNER)
    subprocess.run([gcc, "-shared", "-fPIC", "-o", "libpystub.so", "stub.c"], cwd=tmp_path, check=True)
    subprocess.run(
        [gcc, "-o", "run", "run.c", "-L.", "-Wl,--no-as-needed", "-lpystub", "-ldl", "-Wl,-rpath,$ORIGIN"],
        cwd=tmp_path, check=True,
    )  # fmt: skip
    sysroot = next((p for p in ("/usr/aarch64-linux-gnu",) if Path(p).is_dir()), None)
    query = search_index.match_expression(search_index.query_terms("CAFE mull"))
    scripts = [
        search_index._SCHEMA,
        "INSERT INTO entries VALUES (1, 'dm_a', 1, 'Rendez-vous au Café Müller'), (2, 'dm_a', 2, 'cafe, no mill');"
        "INSERT INTO texts (rowid, text) SELECT position, text FROM entries;",
        "SELECT sqlite_version(), sqlite_compileoption_used('ENABLE_FTS5');",
        f"SELECT e.seq FROM texts JOIN entries e ON e.position = texts.rowid WHERE texts MATCH '{query}';",
    ]
    result = subprocess.run(
        [qemu, *(["-L", sysroot] if sysroot else []), "./run", str(layer_sqlite), *scripts],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    version_and_fts5, *found = result.stdout.splitlines()
    assert version_and_fts5.startswith("3.") and version_and_fts5.endswith("\t1")
    assert found == ["1"]  # case- and accent-insensitive prefixes, every term


# Loaded into the aarch64 pytest (its conftest is the x86 suite's, left out): property tests without a per-example
# deadline (qemu is slow) and with fewer examples; the header says which interpreter and which sqlean ran.
_ARM64_PLUGIN = """
import platform, sys
from hypothesis import settings
settings.register_profile("arm64", deadline=None, database=None, max_examples=10)
settings.load_profile("arm64")
def pytest_report_header(config):
    import sqlean._sqlite3
    return f"arm64 check: {platform.machine()} {sys.implementation.name} {sys.version.split()[0]} loaded {sqlean._sqlite3.__file__}"
"""


@pytest.mark.timeout(900)  # an 18 MB download on a new machine, then ~35 s of CPU under qemu
def test_an_aarch64_python_313_passes_the_index_unit_tests_with_the_layers_sqlean(
    layer_sqlite: Path, dependencies_layer: Path, arm64_python: Arm64Python, tmp_path: Path
) -> None:
    (tmp_path / "parley_arm64.py").write_text(_ARM64_PLUGIN)
    result = arm64_python.run(
        "-m", "pytest", "tests/unit/test_search_index.py", "--noconftest", "-p", "no:cacheprovider", "-p", "parley_arm64",
        "-W", "ignore::pytest.PytestConfigWarning", path=[dependencies_layer, tmp_path], timeout=840,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(rf"^arm64 check: aarch64 cpython 3\.13\.\d+ loaded {re.escape(str(layer_sqlite))}$", result.stdout, re.M)
    summary = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ \d+ passed in .*", summary), summary  # all of them: none skipped
