"""The installed tree, as a user gets it: `meson install` of this build into
a fresh DESTDIR, then everything from there and nothing from the source
tree -- the README's C program built with pkg-config flags alone (shared
and static), the scenarios found by name, the man pages rendered and in
step with every --help and with docs/, bash completion, and the Python
package running the README's pytest example, with a failing test's journal.

The environment (meson test): MESON, MESON_BUILD_ROOT, STAGESIM_SOURCE_ROOT,
and STAGESIM_SANITIZE (b_sanitize of the build, for the C program)."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from support import SOURCE_ROOT

BUILD = os.environ["MESON_BUILD_ROOT"]
SANITIZE = os.environ.get("STAGESIM_SANITIZE", "none")


def readme_block(section, lang):
    """The first ```lang block under the README heading `section`."""
    text = open(os.path.join(SOURCE_ROOT, "README.md")).read()
    part = text[text.index("## " + section + "\n"):]
    part = part[:part.find("\n## ", 3)] if "\n## " in part[3:] else part
    m = re.search(r"```%s\n(.*?)```" % lang, part, re.S)
    assert m, "README: no %s block under %s" % (lang, section)
    return m.group(1)


def run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def find(root, pattern):
    found = glob.glob(os.path.join(root, "**", pattern), recursive=True)
    assert len(found) == 1, "%s: %r" % (pattern, found)
    return found[0]


def render(page):
    """A man page as plain text (groff, no formatting); fails on a warning."""
    r = run(["groff", "-man", "-t", "-Tascii", "-ww", "-P-cbou", "-rHY=0", "-rLL=300n", page])
    assert r.returncode == 0 and not r.stderr, r.stderr
    return r.stdout


def help_flags(stagesim, *cmd):
    out = run([stagesim, *cmd, "--help"]).stdout
    if cmd == ("up",):   # the whole usage: only up's option lines
        out = "\n".join(ln for ln in out.splitlines() if ln.startswith("  --"))
    out = re.sub(r"stagesim( [a-z]+)? --[a-z-]+", "", out)   # another command's, in prose
    return set(re.findall(r"--[a-z][a-z0-9-]*", out))


class Installed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="stagesim-install-")
        cls.dest = os.path.join(cls.tmp, "root")
        r = run([os.environ["MESON"], "install", "-C", BUILD, "--destdir", cls.dest, "--no-rebuild",
                 "--quiet"], timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        cls.bin = find(cls.dest, "bin/stagesim")
        cls.prefix = os.path.dirname(os.path.dirname(cls.bin))
        cls.libdir = os.path.dirname(find(cls.dest, "libstagesim.so"))
        cls.pcdir = os.path.dirname(find(cls.dest, "pkgconfig/stagesim.pc"))
        cls.man1 = find(cls.dest, "man1/stagesim.1")
        cls.man5 = find(cls.dest, "man5/stagesim-scenario.5")
        cls.completion = find(cls.dest, "bash-completion/completions/stagesim")
        cls.pydir = os.path.dirname(os.path.dirname(find(cls.dest, "stagesim/_installed.py")))
        # What a user's shell has: the installed tree, not this build.
        cls.env = {k: v for k, v in os.environ.items()
                   if k not in ("STAGESIM", "PYTHONPATH", "STAGESIM_SCENARIO_PATH")}
        cls.env["PATH"] = os.path.join(cls.prefix, "bin") + ":/usr/bin:/bin"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def in_tree(self, path):
        self.assertTrue(os.path.realpath(path).startswith(os.path.realpath(self.dest) + "/"), path)

    # ---- C ----------------------------------------------------------------
    def pkg_config(self, *args):
        env = dict(self.env, PKG_CONFIG_PATH=self.pcdir, PKG_CONFIG_SYSROOT_DIR=self.dest)
        r = run(["pkg-config", *args, "stagesim"], env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.split()

    def compile_readme_c(self, name, flags):
        src = os.path.join(self.tmp, "embed.c")
        with open(src, "w") as f:
            f.write(readme_block("Use it from C", "c"))
        exe = os.path.join(self.tmp, name)
        san = [] if SANITIZE == "none" else ["-fsanitize=" + SANITIZE]
        r = run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", *san, src, "-o", exe, *flags])
        self.assertEqual(r.returncode, 0, r.stderr)
        return exe

    def check_embed_runs(self, exe, env):
        r = run([exe], env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.fullmatch(r"stagesim (\S+): backend (\d+), auth (\d+), redis (\d+), control (\d+)\n",
                         r.stdout)
        self.assertTrue(m, r.stdout)
        self.assertTrue(all(0 < int(p) < 65536 for p in m.groups()[1:]))
        return r

    def needed(self, exe):
        out = run(["readelf", "-d", exe]).stdout
        return re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", out)

    def test_c_program_with_pkg_config_flags_alone(self):
        flags = self.pkg_config("--cflags", "--libs")
        self.assertIn("-lstagesim", flags)
        self.assertIn("-I" + os.path.join(self.prefix, "include"), flags)
        exe = self.compile_readme_c("embed", flags)
        self.assertIn("libstagesim.so.0", self.needed(exe))
        self.check_embed_runs(exe, dict(self.env, LD_LIBRARY_PATH=self.libdir))

    def test_c_program_with_the_static_library(self):
        # libstagesim.a and, from stagesim.pc, what it needs: its private
        # packages and libraries. (`pkg-config --static` would also ask for
        # the private libraries of those packages -- gnutls's -lunistring --
        # whose -dev packages a machine need not have.)
        archive = os.path.join(self.libdir, "libstagesim.a")
        flags = [archive if f == "-lstagesim" else f for f in self.pkg_config("--cflags", "--libs")]
        requires = self.pkg_config("--print-requires-private")
        env = dict(self.env, PKG_CONFIG_PATH=self.pcdir)
        flags += run(["pkg-config", "--libs", *requires], env=env).stdout.split()
        pc = open(os.path.join(self.pcdir, "stagesim.pc")).read()
        flags += re.search(r"^Libs.private: (.*)$", pc, re.M).group(1).split()
        exe = self.compile_readme_c("embed-static", flags)
        self.assertNotIn("libstagesim.so.0", self.needed(exe))
        self.check_embed_runs(exe, self.env)

    def test_shared_library_exports_the_public_api_only(self):
        so = os.path.join(self.libdir, "libstagesim.so")
        out = run(["nm", "-D", "--defined-only", so]).stdout
        names = {ln.split()[-1] for ln in out.splitlines() if ln.strip()}
        names = {n.split("@")[0] for n in names if not n.startswith("_")}
        self.assertIn("stagesim_start", names)
        self.assertIn("stagesim_breaker_new", names)
        self.assertEqual({n for n in names if not n.startswith("stagesim_")}, set())
        for h in ("stagesim.h", "stagesim_breaker.h"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, "include", h)), h)

    # ---- scenarios by name --------------------------------------------------
    def test_scenarios_found_by_name_in_the_installed_tree(self):
        shipped = sorted(os.path.basename(p)[:-5]
                         for p in glob.glob(os.path.join(SOURCE_ROOT, "scenarios", "*.json")))
        r = run([self.bin, "scenarios"], env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([ln.split()[0] for ln in r.stdout.splitlines()], shipped)
        for name in shipped:
            r = run([self.bin, "scenarios", name], env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr)
            path = re.match(r"\S+ \((.*)\)\n", r.stdout).group(1)
            self.in_tree(path)
        # `up` too; staging when this tree has it (the incident library).
        name = "staging" if "staging" in shipped else "redis-outage"
        sys.path.insert(0, self.pydir)
        try:
            from stagesim import Stagesim
            with Stagesim(scenario=name, binary=self.bin, env=self.env) as sim:
                st = sim.control.status()["scenario"]
                self.assertEqual(st["name"], name)
                self.in_tree(st["path"])
        finally:
            sys.path.remove(self.pydir)

    # ---- man pages -------------------------------------------------------------
    def test_man_renders_both_pages(self):
        manpath = os.path.dirname(os.path.dirname(self.man1))
        for page, section, title in (("stagesim", "1", "STAGESIM(1)"),
                                     ("stagesim-scenario", "5", "STAGESIM-SCENARIO(5)")):
            r = run(["man", "--manpath=" + manpath, section, page],
                    env=dict(self.env, MANPAGER="cat", PAGER="cat", MANWIDTH="100"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(title, r.stdout)
            self.assertIn("NAME", r.stdout)
            self.assertNotRegex(r.stdout, r"@[A-Z]+@", "every @PLACEHOLDER@ filled in")
        render(self.man1)
        render(self.man5)

    def test_stagesim_1_has_every_command_flag_and_variable(self):
        text = render(self.man1)
        flags = set()
        for cmd in (("up",), ("fault",), ("probe",), ("drill",), ("scenarios",)):
            flags |= help_flags(self.bin, *cmd)
        flags |= {"--help", "--version"}
        in_man = set(re.findall(r"--[a-z][a-z0-9-]*", text.replace("pkg-config --cflags --libs", "")))
        self.assertEqual(flags - in_man, set(), "in --help, not in stagesim(1)")
        self.assertEqual(in_man - flags, set(), "in stagesim(1), in no --help")
        for cmd in ("up", "validate", "scenarios", "fault", "probe", "drill"):
            self.assertRegex(text, r"\n   stagesim %s" % cmd, "a section for %s" % cmd)
        # Every variable the sources read is in ENVIRONMENT.
        env_part = text[text.index("\nENVIRONMENT\n"):text.index("\nFILES\n")]
        read = set()
        for src in glob.glob(os.path.join(SOURCE_ROOT, "sim", "**", "*.c"), recursive=True):
            read |= set(re.findall(r'(?:getenv|env_nonempty)\("([A-Z0-9_]+)"\)', open(src).read()))
        self.assertGreaterEqual(len(read), 6)
        for var in read:
            self.assertIn(var, env_part)
        for code in ("0", "1", "2"):
            self.assertRegex(text, r"EXIT STATUS(.|\n)*\n       %s\s" % code)

    def test_stagesim_scenario_5_has_every_key_of_the_docs(self):
        text = render(self.man5)
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text))
        keys = set()
        scen = open(os.path.join(SOURCE_ROOT, "docs", "scenarios.md")).read()
        keys_part = scen[scen.index("## Keys"):scen.index("\n## ", scen.index("## Keys") + 3)]
        for row in re.findall(r"^\| ([^|]+)\|", keys_part, re.M):
            keys |= set(re.findall(r"`([a-z_.]+)`", row))
        faults = open(os.path.join(SOURCE_ROOT, "docs", "faults.md")).read()
        for title in ("## Where", "## Match", "## When", "## Actions"):
            part = faults[faults.index(title):faults.index("\n## ", faults.index(title) + 3)]
            for row in re.findall(r"^\| (.+)\|$", part, re.M):
                cells = [c.strip() for c in row.split("|")]
                keys |= set(re.findall(r"`([a-z_.]+)`", cells[0]))
                if title == "## Actions":   # the parameters column
                    keys |= set(re.findall(r"`([a-z_]+)`", cells[2]))
        self.assertGreater(len(keys), 80)
        self.assertEqual(sorted(k for k in keys if k not in words), [],
                         "docs keys missing from stagesim-scenario(5)")

    # ---- bash completion -----------------------------------------------------------
    def complete(self, *words):
        """COMPREPLY for the command line `stagesim WORDS` with the cursor on
        the last word."""
        script = 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _stagesim; ' \
                 'printf "%s\\n" "${COMPREPLY[@]}"'
        r = run(["bash", "-c", script, "bash", self.completion, self.bin, *words], env=self.env,
                cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        return set(r.stdout.split())

    def test_bash_completion(self):
        self.assertEqual(self.complete(""), {"up", "validate", "scenarios", "fault", "probe",
                                             "drill", "--help", "--version"})
        self.assertEqual(self.complete("up", "--"), help_flags(self.bin, "up") | {"--help"})
        self.assertEqual(self.complete("up", "--tls-"), {"--tls-cert", "--tls-key", "--tls-dir"})
        self.assertEqual(self.complete("up", "--scenario", "redis-"), {"redis-outage"})
        self.assertIn("ws-1011-mid-run", self.complete("validate", "ws"))
        self.assertEqual(self.complete("fault", ""), {"add", "ls", "rm", "reset"})
        self.assertEqual(self.complete("probe", ""), {"health", "golden-path", "auth", "redis"})
        self.assertEqual(self.complete("probe", "golden-path", "--t"),
                         {"--token-source", "--timeout-ms"})
        self.assertEqual(self.complete("probe", "golden-path", "--token-source", ""),
                         {"query", "header", "subprotocol"})
        self.assertEqual(self.complete("drill", "--h"), {"--help", "--html"})
        self.assertEqual(self.complete("up", "--seed", ""), set(), "no guess for a value")

    # ---- Python --------------------------------------------------------------------
    def pytest(self, *files):
        env = dict(self.env, PYTHONPATH=self.pydir)
        return run([sys.executable, "-m", "pytest", "-p", "stagesim.pytest", "-p", "no:cacheprovider",
                    "-q", *files], env=env, cwd=self.tmp, timeout=180)

    def test_python_package_finds_the_installed_binary(self):
        env = dict(self.env, PYTHONPATH=self.pydir, PATH="/usr/bin:/bin")
        r = run([sys.executable, "-c", "import stagesim; print(stagesim.__file__); "
                 "print(stagesim.find_binary()); print(stagesim.scenario_path('golden-path'))"],
                env=env, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        for path in r.stdout.split():
            self.in_tree(path)

    def test_readme_pytest_example_against_the_installed_tree(self):
        path = os.path.join(self.tmp, "test_readme.py")
        with open(path, "w") as f:
            f.write(readme_block("Use it from Python", "python"))
        r = self.pytest(path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"\b1 passed\b")

    def test_a_failing_test_reports_the_journal(self):
        path = os.path.join(self.tmp, "test_fails.py")
        with open(path, "w") as f:
            f.write("import pytest, urllib.request\n\n"
                    "@pytest.mark.stagesim(scenario='golden-path', seed=3)\n"
                    "def test_health_is_slow(stagesim):\n"
                    "    stagesim.control.add_fault({'id': 'h503', 'on': 'http.request',\n"
                    "        'match': {'name': '/health'}, 'action': {'kind': 'status', 'status': 503}})\n"
                    "    urllib.request.urlopen(stagesim.http_url + '/health')\n")
        r = self.pytest(path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("HTTP Error 503", r.stdout)
        section = r.stdout[r.stdout.index("stagesim journal ("):]
        lines = [json.loads(ln) for ln in section.splitlines() if ln.startswith("{")]
        self.assertTrue(any(ln.get("rule") == "h503" for ln in lines), section[:2000])


if __name__ == "__main__":
    unittest.main()
