#!/usr/bin/env python3
"""Benchmark the guarded hot path against the interpreter floor and the seed's bash script.

Run as root from a checkout, after ./test.sh (or any install into .venv):

    .venv/bin/python bench/hotpath.py [--rounds 40]
    .venv/bin/python bench/hotpath.py --installers [--rounds 40] [--python /usr/bin/python3]

It makes a network namespace holding the VIP 10.99.0.100 on a veth (nothing leaves the
machine), re-runs itself inside it, and times whole processes alternately, so machine
noise hits every contender alike. It prints medians, ratios and peak RSS.

Beside our rows it times what users would run instead: the seed's one-liner (``ip addr
show | grep "$VIP"``, then the job), ``flock -n FILE true``, and, when etcd and etcdctl are
installed (``--no-etcd`` to skip), ``etcdctl lock NAME true`` and ``etcdctl put K V``
against one etcd member that the bench starts in the namespace, on the node's 10.99.0.10,
next to a ledger-guarded run (``--ledger etcd://10.99.0.10:2379/...``, a fresh task each
round, so each run claims a slot, runs the job and records its end).

``--installers`` builds one wheel from the checkout (``--src``), installs it the ways users
do (the README's venv, a venv with the interpreter's bundled pip, a Debian-style system
prefix, ``uv tool install`` with and without ``--compile-bytecode``, pipx), all into one
temporary directory that is removed afterwards, then times each installed ``if-master``
against its own interpreter's ``python -c pass`` as the unprivileged user ``nobody`` (with
a home of its own, as a cron user has), the way a cron job of a root-installed tool runs.
uv and pipx, when not on PATH, are pip-installed into a throwaway venv in that directory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIP = "10.99.0.100"
OTHER = "10.99.0.1"  # a textual prefix of the node's own 10.99.0.10: not held
SEED = f"""#!/bin/bash
FLOATING_IP_ADDRESS={VIP}
if (ip addr show | grep "$FLOATING_IP_ADDRESS")
then
\teval $1
fi
"""
# What pip < 25 generates for [project.scripts]: it imports re before anything else.
OLD_WRAPPER = """#!{python}
import re
import sys
from ifmaster.main import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""
NOBODY = 65534
WARMUP = 5
ETCD = "10.99.0.10:2379"  # the member's client URL: the bench node's own address
ETCD_PEER = "10.99.0.10:2380"


def timed(argv: list[str], env: dict[str, str], user: int | None = None) -> tuple[float, float]:
    """Wall and CPU (user+sys) seconds of one whole process (run as ``user`` if given).

    CPU time is what other load on the machine disturbs least: report it beside wall time.
    """
    kw: dict[str, object] = {}
    if user is not None:  # switched in the child between fork and exec: no extra exec timed
        kw = {"user": user, "group": user, "extra_groups": []}
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **kw,  # type: ignore[call-overload]
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return elapsed, usage.ru_utime + usage.ru_stime


Contenders = dict[str, tuple[list[str], dict[str, str], "int | None"]]


def race(
    contenders: Contenders, rounds: int, warmup: int = WARMUP
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall and CPU ms of each contender, run round-robin after a warm-up, so
    machine noise hits every contender alike."""
    times: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    for round_ in range(rounds + warmup):
        for name, (argv, env, user) in contenders.items():
            # "{round}" in an argument: a fresh name each round (a ledger task, a new slot).
            t, c = timed([a.replace("{round}", str(round_)) for a in argv], env, user)
            if round_ >= warmup:  # the first rounds warm caches (and write byte-code)
                times[name].append(t)
                cpu[name].append(c)

    def ms(d: dict[str, list[float]]) -> dict[str, float]:
        return {k: statistics.median(v) * 1000 for k, v in d.items()}

    return ms(times), ms(cpu)


def ledger_modules(tool: str, ledger: str, env: dict[str, str]) -> list[str]:
    """The modules a ledger-guarded run imports beyond the floor's, in order (-X importtime)."""

    def loaded(argv: list[str]) -> list[str]:
        err = subprocess.run([sys.executable, "-X", "importtime", *argv], env=env,
                             capture_output=True, text=True, check=True).stderr  # fmt: skip
        return [ln.split("|")[-1].strip() for ln in err.splitlines() if ln.startswith("import")]

    floor = set(loaded(["-c", "pass"]))
    run = loaded([tool, "--vip", VIP, "--task", "imports", "--every", "1m", "--ledger", ledger,
                  "--", "true"])  # fmt: skip
    return [m for m in run if m not in floor and not m.startswith("encodings.")]


def ledger_calls(ledger: str, rounds: int) -> dict[str, float]:
    """Median ms of each of a guarded run's ledger calls, warm, in one process: what a run
    waits for however fast its own code is."""
    code = f"""
import json, os, statistics, time
from ifmaster.ledger import EtcdLedger
led = EtcdLedger.from_options({ledger!r}, environ={{}})
slot = time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime())
ms = {{}}
def timed(name, call):
    t = time.perf_counter()
    out = call()
    ms.setdefault(name, []).append(time.perf_counter() - t)
    return out
for i in range({rounds}):
    timed("clock", led.clock)
    c = timed("claim", lambda: led.claim(f"calls{{i}}", slot, node="n", pid=1, start=time.time()))
    lease = timed("grant", lambda: led.grant(10))
    timed("put_alive", lambda: led.put_alive(c, lease))
    timed("finish", lambda: led.finish(c, end=time.time(), status=0))
print(json.dumps({{k: statistics.median(v) * 1000 for k, v in ms.items()}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def check_claims(ledger: str, runs: int) -> None:
    """Every ledger run claimed its slot and recorded its end: the row timed that path,
    not a refusal (a late slot, a clock veto), which costs less."""
    prefix = ledger.partition(ETCD)[2] + "/"
    argv = ["etcdctl", f"--endpoints=http://{ETCD}", "get", "--prefix", prefix, "-w", "json"]
    out = subprocess.run(argv, env={**os.environ, "ETCDCTL_API": "3"}, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    import base64

    ended = 0
    for kv in json.loads(out).get("kvs", []):
        task = base64.b64decode(kv["key"])[len(prefix) :].split(b"/")
        if len(task) == 2 and task[0][:1] == b"t" and task[0][1:].isdigit():  # a race's run
            ended += "end" in json.loads(base64.b64decode(kv["value"]))
    if ended != runs:
        raise SystemExit(f"the ledger row recorded {ended} ends in {runs} runs: it timed refusals")


def peak_rss(
    argv: list[str], env: dict[str, str] | None = None, runs: int = 3, limit: float | None = None
) -> int | None:
    """Peak RSS (KiB) over a few runs, through GNU time; None without /usr/bin/time, or
    when a run takes longer than ``limit`` seconds.

    Not this process's rusage of its child: a child forked (or vforked) from here starts
    with this process's pages, and the kernel keeps that high-water mark across the exec,
    so every contender would show this bench's own size. /usr/bin/time is a few hundred KiB.
    """
    if not os.access("/usr/bin/time", os.X_OK):
        return None
    best = 0
    with tempfile.NamedTemporaryFile("r") as out:
        for _ in range(runs):
            try:
                subprocess.run(
                    ["/usr/bin/time", "-f", "%M", "-o", out.name, *argv],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=limit,
                )
            except subprocess.TimeoutExpired:
                return None
            out.seek(0)
            best = max(best, int(out.read().split()[-1]))
    return best


def peers(tmp: Path, etcd: bool) -> Contenders:
    """What users would run instead of if-master, as contenders; etcd's when it runs."""
    env = dict(os.environ)
    out: Contenders = {
        # The seed's test as a crontab line would inline it (its output goes nowhere).
        "seed one-liner (sh -c), master": (
            ["sh", "-c", f'ip addr show | grep "{VIP}" && true'],
            env,
            None,
        ),
        "flock -n FILE true": (["flock", "-n", str(tmp / "flock"), "true"], env, None),
    }
    if etcd:
        ctl = ["etcdctl", f"--endpoints=http://{ETCD}"]
        etcd_env = {**env, "ETCDCTL_API": "3"}
        out["etcdctl lock NAME true"] = ([*ctl, "lock", "bench-lock", "true"], etcd_env, None)
        out["etcdctl put K V"] = ([*ctl, "put", "bench-key", "v"], etcd_env, None)
    return out


def inside(rounds: int, etcd: bool, warmup: int = WARMUP) -> None:
    bindir = Path(sys.executable).parent
    tool = str(bindir / "if-master")
    tmp = Path(tempfile.mkdtemp())
    seed = tmp / "if_master.sh"
    seed.write_text(SEED)
    seed_other = tmp / "if_master_other.sh"
    seed_other.write_text(SEED.replace(VIP, OTHER))
    old = tmp / "if-master-old-pip"
    old.write_text(OLD_WRAPPER.format(python=sys.executable))
    old.chmod(0o755)
    env = dict(os.environ)
    env_vip = {**env, "IF_MASTER_VIP": VIP}
    contenders: Contenders = {
        "python -c pass (floor)": ([sys.executable, "-c", "pass"], env, None),
        # The floor of a master's run: the interpreter, then the exec of the job (which skips
        # the interpreter's teardown). What a master's row costs beyond it is our code.
        "python, then exec true": (
            [sys.executable, "-c", "import os; os.execv('/usr/bin/true', ['true'])"],
            env,
            None,
        ),
        "if-master master (--vip)": ([tool, "--vip", VIP, "--", "true"], env, None),
        "if-master not master (--vip)": ([tool, "--vip", OTHER, "--", "true"], env, None),
        "if-master master (IF_MASTER_VIP)": ([tool, "--", "true"], env_vip, None),
        "if-master check, master": ([tool, "--vip", VIP], env, None),
        "old pip wrapper (import re), master": (
            [str(old), "--vip", VIP, "--", "true"],
            env,
            None,
        ),
        "python -m ifmaster, master": (
            [sys.executable, "-m", "ifmaster", "--vip", VIP, "--", "true"],
            env,
            None,
        ),
        "if-master -v (click path), master": (
            [tool, "-v", "--vip", VIP, "--", "true"],
            env,
            None,
        ),
        "bash seed script, master": (["bash", str(seed), "true"], env, None),
        "bash seed script, not master": (["bash", str(seed_other), "true"], env, None),
        **peers(tmp, etcd),
    }
    if etcd:
        ledger = f"etcd://{ETCD}/if-master-bench-{os.getpid()}"
        contenders["if-master --ledger, master"] = (
            # --every 1m: any second of a minute is inside its slot's --max-late 60 s, so each
            # run claims, runs and ends (with 1h, most of the hour was a late refusal).
            [tool, "--vip", VIP, "--task", "t{round}", "--every", "1m", "--ledger", ledger,
             "--", "true"],
            env,
            None,
        )  # fmt: skip
        # The limit, in parts: the same run's imports alone (no network, no job), so the row
        # above minus this one is the claim, the job and the end record.
        contenders["the ledger run's imports alone"] = (
            [sys.executable, "-c", f"import {', '.join(ledger_modules(tool, ledger, env))}"],
            env,
            None,
        )
    med, cpu = race(contenders, rounds, warmup)
    if etcd:
        check_claims(ledger, rounds + warmup)
    rss = {
        k: peak_rss([a.replace("{round}", f"rss{i}") for a in argv], env)
        for i, (k, (argv, env, _user)) in enumerate(contenders.items())
    }
    shutil.rmtree(tmp, ignore_errors=True)
    floor, cfloor = med["python -c pass (floor)"], cpu["python -c pass (floor)"]
    bash = med["bash seed script, master"]
    print(
        f"`bench/hotpath.py --rounds {rounds}`: {rounds} rounds after {warmup} warm-up, medians;"
        f" python {sys.version.split()[0]}" + (f"; one etcd member at {ETCD}" if etcd else "")
    )
    print(
        f"{'':38} {'ms':>6} {'x floor':>8} {'x bash':>7} {'CPU ms':>7} {'x floor':>8}"
        f" {'peak RSS MiB':>13}"
    )
    for name in contenders:
        kib = rss[name]
        print(
            f"{name:38} {med[name]:6.1f} {med[name] / floor:8.2f} {med[name] / bash:7.2f}"
            f" {cpu[name]:7.1f} {cpu[name] / cfloor:8.2f}"
            + (f" {kib / 1024:13.1f}" if kib is not None else " n/a (no /usr/bin/time)")
        )
    if etcd:
        calls = ledger_calls(f"etcd://{ETCD}/if-master-bench-calls-{os.getpid()}", rounds)
        total = sum(calls.values())
        each = ", ".join(f"{k} {v:.1f}" for k, v in calls.items())
        print(f"\na ledger run's calls, warm in one process: {total:.1f} ms ({each})")
        print(f"the floor plus those calls: {floor + total:.1f} ms, {(floor + total) / floor:.2f}"
              f" x floor; etcdctl lock: {med['etcdctl lock NAME true']:.1f} ms")  # fmt: skip


# --- installers -------------------------------------------------------------------------


def sh(argv: list[str], env: dict[str, str] | None = None) -> None:
    """Run an install step; on failure show its output and stop."""
    r = subprocess.run(argv, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")


def tool(name: str, tmp: Path) -> str:
    """``name`` (uv or pipx) from PATH, else pip-installed into a throwaway venv in ``tmp``."""
    found = shutil.which(name)
    if found:
        return found
    venv = tmp / f"tools-{name}"  # one each: pipx uses a uv beside it instead of pip
    sh([sys.executable, "-m", "venv", str(venv)])
    sh([str(venv / "bin" / "pip"), "install", "-q", name])
    return str(venv / "bin" / name)


def site_dir(python: str, prefix: Path) -> Path:
    """Where the package landed under ``prefix`` (Debian's pip uses dist-packages)."""
    for init in prefix.rglob("ifmaster/__init__.py"):
        return init.parent.parent
    raise SystemExit(f"no ifmaster package under {prefix}")


def install_all(
    python: str, src: Path, tmp: Path, only: set[str] | None
) -> list[dict[str, object]]:
    """Install the checkout every way; return what to time: name, python, script, env."""
    wheel_dir = tmp / "wheel"
    sh([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheel_dir), str(src)])
    wheel = str(next(wheel_dir.glob("*.whl")))
    plans: list[dict[str, object]] = []
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}

    def want(name: str) -> bool:
        return only is None or name in only

    if want("readme"):
        d = tmp / "readme"
        sh([python, "-m", "venv", str(d)])
        sh([str(d / "bin/pip"), "install", "-q", "--upgrade", "pip"])
        sh([str(d / "bin/pip"), "install", "-q", wheel])
        plans.append(
            {
                "name": "readme",
                "python": str(d / "bin/python"),
                "script": str(d / "bin/if-master"),
                "env": {},
            }
        )
    if want("venv-bundled-pip"):
        d = tmp / "bundled"
        sh([python, "-m", "venv", str(d)])
        sh([str(d / "bin/pip"), "install", "-q", wheel])
        plans.append(
            {
                "name": "venv-bundled-pip",
                "python": str(d / "bin/python"),
                "script": str(d / "bin/if-master"),
                "env": {},
            }
        )
    if want("system-prefix"):
        # `sudo pip install` with the distribution's own pip, into a prefix laid out like
        # /usr/local (lib/python3.X/dist-packages on Debian), found through PYTHONPATH.
        d = tmp / "sys" / "usr" / "local"
        r = subprocess.run([python, "-m", "pip", "--version"], capture_output=True)
        if r.returncode == 0:
            sh(
                [python, "-m", "pip", "install", "-q", "--break-system-packages",
                 "--ignore-installed", "--prefix", str(d), wheel],
                env={**base_env, "PIP_BREAK_SYSTEM_PACKAGES": "1"},
            )  # fmt: skip
            site = site_dir(python, d)
            script = next(d.rglob("bin/if-master"))  # Debian's pip may add a /local level
            plans.append(
                {"name": "system-prefix", "python": python, "script": str(script),
                 "env": {"PYTHONPATH": str(site)}}
            )  # fmt: skip
        else:
            print(f"system-prefix: skipped, {python} has no pip", file=sys.stderr)
    for name, extra in (("uv-tool", []), ("uv-tool-compiled", ["--compile-bytecode"])):
        if not want(name):
            continue
        uv = tool("uv", tmp)
        d = tmp / name
        uv_env = {
            **base_env,
            "UV_TOOL_DIR": str(d / "tools"),
            "UV_TOOL_BIN_DIR": str(d / "bin"),
            "UV_CACHE_DIR": str(tmp / "uv-cache"),
            "UV_NATIVE_TLS": "1",
        }
        sh([uv, "tool", "install", "-q", *extra, "--python", python, wheel], env=uv_env)
        tool_python = str(d / "tools" / "if-master" / "bin" / "python")
        plans.append(
            {"name": name, "python": tool_python, "script": str(d / "bin/if-master"), "env": {}}
        )
    if want("pipx"):
        pipx = tool("pipx", tmp)
        d = tmp / "pipx"
        pipx_env = {
            **base_env,
            "PIPX_HOME": str(d / "home"),
            "PIPX_BIN_DIR": str(d / "bin"),
            "PIPX_MAN_DIR": str(d / "man"),
        }
        sh([pipx, "install", "--python", python, wheel], env=pipx_env)
        venv_python = str(d / "home" / "venvs" / "if-master" / "bin" / "python")
        plans.append(
            {"name": "pipx", "python": venv_python, "script": str(d / "bin/if-master"), "env": {}}
        )
    return plans


def why(plan: dict[str, object], env: dict[str, str], user: int | None) -> str:
    """What the installed script does beyond the floor: its own imports, the modules it
    loads that ``python -c pass`` does not, and whether the package has byte-code."""
    python, script = str(plan["python"]), str(plan["script"])

    def modules(argv: list[str]) -> set[str]:
        kw: dict[str, object] = {}
        if user is not None:
            kw = {"user": user, "group": user, "extra_groups": []}
        r = subprocess.run(argv, env=env, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
        return {
            line.split("|")[-1].strip().split(".")[0]
            for line in r.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }

    floor = modules([python, "-X", "importtime", "-c", "pass"])
    run = modules([python, "-X", "importtime", script, "--vip", OTHER, "--", "true"])
    extra = sorted(run - floor - {"ifmaster", "imported"})
    text = Path(script).read_text()
    wrapper = [
        ln.split()[1]
        for ln in text.splitlines()
        if ln.startswith(("import ", "from ")) and not ln.startswith("from ifmaster")
    ]
    kw_env = {k: v for k, v in env.items() if k == "PYTHONPATH"}
    pkg = subprocess.run(
        [python, "-c", "import ifmaster, os; print(os.path.dirname(ifmaster.__file__))"],
        env={**os.environ, **kw_env},
        capture_output=True,
        text=True,
    ).stdout.strip()
    pyc = "yes" if Path(pkg, "__pycache__").is_dir() else "no"
    cache = Path(env["HOME"], ".cache", "if-master", "pycache")
    user_cache = ", in the user's cache" if any(Path(cache, pkg.lstrip("/")).glob("*.pyc")) else ""
    return (
        f"script imports {','.join(wrapper) or '-'}; modules beyond the floor's: "
        f"{','.join(extra) or '-'}; byte-code beside the package: {pyc}{user_cache}"
    )


def time_installers(plan_file: str, rounds: int, user: int | None) -> None:
    """Inside the namespace: race every install's floor, master and not-master runs."""
    data = json.loads(Path(plan_file).read_text())
    plans, home = data["plans"], data["home"]
    contenders: Contenders = {}
    envs = {}
    for p in plans:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", **p["env"]}
        envs[p["name"]] = env
        contenders[p["name"] + " floor"] = ([p["python"], "-c", "pass"], env, user)
        contenders[p["name"] + " master"] = ([p["script"], "--vip", VIP, "--", "true"], env, user)
        contenders[p["name"] + " not"] = ([p["script"], "--vip", OTHER, "--", "true"], env, user)
    med, cpu = race(contenders, rounds)
    who = "root" if user is None else f"uid {user} (HOME {home})"
    print(
        f"### Installers: `bench/hotpath.py --installers --rounds {rounds}`; {rounds} rounds after "
        f"{WARMUP} warm-up, medians, as {who}\n"
    )
    print(
        "| installer | floor ms | master ms | x floor | not master ms | x floor "
        "| CPU: floor ms | master x | not master x | why |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p in plans:
        n = p["name"]
        f, m, o = med[n + " floor"], med[n + " master"], med[n + " not"]
        cf, cm, co = cpu[n + " floor"], cpu[n + " master"], cpu[n + " not"]
        print(
            f"| {n} | {f:.1f} | {m:.1f} | {m / f:.2f} | {o:.1f} | {o / f:.2f} "
            f"| {cf:.1f} | {cm / cf:.2f} | {co / cf:.2f} | {why(p, envs[n], user)} |"
        )


def installers(args: argparse.Namespace, ns: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ifm-bench-inst-"))
    try:
        tmp.chmod(0o755)  # nobody must reach the installs; they stay root-owned and read-only
        only = set(args.only.split(",")) if args.only else None
        plans = install_all(args.python, Path(args.src).resolve(), tmp, only)
        home = tmp / "home"
        home.mkdir(mode=0o700)
        user = None if args.as_root else NOBODY
        if user is not None:
            os.chown(home, user, user)
        plan_file = tmp / "plans.json"
        plan_file.write_text(json.dumps({"plans": plans, "home": str(home)}))
        me = [sys.executable, os.path.abspath(__file__), "--time-installers", str(plan_file),
              "--rounds", str(args.rounds)] + (["--as-root"] if args.as_root else [])  # fmt: skip
        subprocess.run(["ip", "netns", "exec", ns, *me], check=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Member:
    """One etcd member in the bench's namespace, its data in a temporary directory."""

    def __init__(self, ns: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ifm-bench-etcd-"))
        argv = [
            "ip", "netns", "exec", ns, "etcd", "--name", "bench",
            "--data-dir", str(self.dir / "data"),
            "--listen-client-urls", f"http://{ETCD}", "--advertise-client-urls", f"http://{ETCD}",
            "--listen-peer-urls", f"http://{ETCD_PEER}",
            "--initial-advertise-peer-urls", f"http://{ETCD_PEER}",
            "--initial-cluster", f"bench=http://{ETCD_PEER}", "--initial-cluster-state", "new",
            "--log-level", "warn", "--logger", "zap",
        ]  # fmt: skip
        self.log = open(self.dir / "etcd.log", "w")  # closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_ready(ns)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, ns: str, timeout: float = 30.0) -> None:
        """Until a write succeeds: the member has elected itself leader."""
        env = {**os.environ, "ETCDCTL_API": "3"}
        argv = ["ip", "netns", "exec", ns, "etcdctl", f"--endpoints=http://{ETCD}",
                "--dial-timeout=1s", "--command-timeout=2s", "put", "/ready", "1"]  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if subprocess.run(argv, env=env, capture_output=True).returncode == 0:
                return
            time.sleep(0.2)
        log = (self.dir / "etcd.log").read_text()[-2000:]
        raise SystemExit(f"etcd did not become ready in {timeout:g} s:\n{log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=WARMUP, help="rounds not counted")
    parser.add_argument("--installers", action="store_true", help="compare installers")
    parser.add_argument(
        "--python",
        default="/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable,
        help="interpreter the installs use (default: the distribution's python3)",
    )
    parser.add_argument("--src", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--only", help="comma-separated installer names")
    parser.add_argument("--as-root", action="store_true", help="time as root, not nobody")
    parser.add_argument(
        "--no-etcd", action="store_true", help="no etcd member, no etcdctl and ledger rows"
    )
    parser.add_argument("--etcd", action="store_true", help=argparse.SUPPRESS)  # inside
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--time-installers", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM (a test's timeout, a kill) unwinds like Ctrl-C: the namespace and etcd go.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.inside:
        inside(args.rounds, args.etcd, args.warmup)
        return
    if args.time_installers:
        time_installers(args.time_installers, args.rounds, None if args.as_root else NOBODY)
        return
    ns = f"ifm-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    member = None
    try:
        for cmd in (
            ["link", "set", "lo", "up"],
            ["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
            ["link", "set", "eth0", "up"],
            ["link", "set", "eth1", "up"],
            ["addr", "add", "10.99.0.10/24", "dev", "eth0"],
            ["addr", "add", f"{VIP}/24", "dev", "eth0"],
        ):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        if args.installers:
            installers(args, ns)
            return
        me = [sys.executable, os.path.abspath(__file__), "--inside", "--rounds", str(args.rounds),
              "--warmup", str(args.warmup)]  # fmt: skip
        if not args.no_etcd and shutil.which("etcd") and shutil.which("etcdctl"):
            member = Member(ns)
            me.append("--etcd")
        elif not args.no_etcd:
            print("etcd or etcdctl not installed: no etcd rows", file=sys.stderr)
        subprocess.run(["ip", "netns", "exec", ns, *me], check=True)
    finally:
        if member is not None:
            member.stop()
        subprocess.run(["ip", "netns", "del", ns], check=False)


if __name__ == "__main__":
    main()
