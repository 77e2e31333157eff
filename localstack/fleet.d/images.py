"""The fleet's images and its package proxy (machine-wide; used by fleet.py).

Images. A *stock* image is a root filesystem built here from a recipe in images/ (Debian 12 with
mmdebstrap), cached under CACHE/images/<alias>-<arch>-<recipe hash>, and rebuilt only when the recipe
changes; builds take a machine-wide lock, so concurrent fleets wait for one build. Each image is
registered in LocalStack as an AMI with a real-style name, architecture and root device, and AWS's
public SSM parameters for it are written (see localstack/init/ready.d/starcluster-fleet.py for
how LocalStack accepts those). *Records* are AMIs of images the fleet cannot boot here (Ubuntu, Amazon
Linux, arm64), registered with their real-style names and parameters so alias and architecture
checks can be tested; a host for one fails with a clear line in the fleet log. The *machine* image
is today's fast host (a copy-on-write view of this machine), registered as starcluster-fleet-host;
any ImageId the fleet does not know boots that way too.

Package proxy. One apt-cacher-ng for the machine (loopback only, cache under CACHE), started by the
first fleet and stopped by the last; each fleet's reconciler forwards its gateway:3142 to it, the
only way out its hosts have (the fleet's stand-in for a VPC's NAT).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN = Path(os.environ.get("FLEET_RUN", "/run/starcluster-fleet"))
CACHE = Path(os.environ.get("FLEET_CACHE", "/var/cache/starcluster-fleet"))
IMAGE_CACHE = CACHE / "images"
RECIPES = HERE / "images"

PROXY_PORT = 3142  # on each fleet's gateway: what hosts use
PROXY_LOCAL = ("127.0.0.1", int(os.environ.get("FLEET_PROXY_LOCAL_PORT", "31442")))
PROXY_CONF = HERE / "apt-cacher-ng"
PROXY_CACHE = CACHE / "apt-cacher-ng"
PROXY_LOGS = Path(os.environ.get("FLEET_PROXY_LOGS", "/var/log/starcluster-fleet/apt-cacher-ng"))
PROXY_LOG = PROXY_LOGS / "apt-cacher.log"
PROXY_PID = RUN / "apt-cacher-ng.pid"
PROXY_USERS = RUN / "proxy-users"

IMAGE_TAG = "starcluster:fleet-image"
PUBLISHER_MARK = "starcluster test fleet:"  # see localstack/init/ready.d/starcluster-fleet.py
MACHINE_IMAGE_NAME = "starcluster-fleet-host"

# What real AWS publishes (PLAN.md's table, checked by the aws helper). {a}: amd64|arm64, {x}: x86_64|arm64.
CATALOGUE = [
    {
        "alias": "debian-12",
        "recipe": "debian-12.sh",
        "login": "admin",
        "arches": ["x86_64", "arm64"],
        "name": "debian-12-{a}-{date}-{build}",
        "description": "Debian 12 (bookworm) {date}-{build}",
        "root": "/dev/xvda",
        "params": ["/aws/service/debian/release/12/latest/{a}", "/aws/service/debian/release/bookworm/latest/{a}"],
    },
    {
        "alias": "ubuntu-24.04",
        "login": "ubuntu",
        "arches": ["x86_64", "arm64"],
        "name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{a}-server-20250610",
        "description": "Canonical, Ubuntu, 24.04, {a} noble image",
        "root": "/dev/sda1",
        "params": ["/aws/service/canonical/ubuntu/server/24.04/stable/current/{a}/hvm/ebs-gp3/ami-id"],
    },
    {
        "alias": "ubuntu-22.04",
        "login": "ubuntu",
        "arches": ["x86_64", "arm64"],
        "name": "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-{a}-server-20250610",
        "description": "Canonical, Ubuntu, 22.04 LTS, {a} jammy image",
        "root": "/dev/sda1",
        "params": ["/aws/service/canonical/ubuntu/server/22.04/stable/current/{a}/hvm/ebs-gp2/ami-id"],
    },
    {
        "alias": "al2023",
        "login": "ec2-user",
        "arches": ["x86_64", "arm64"],
        "name": "al2023-ami-2023.7.20250609.0-kernel-6.1-{x}",
        "description": "Amazon Linux 2023 AMI 2023.7.20250609.0 {x} HVM kernel-6.1",
        "root": "/dev/xvda",
        "params": ["/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{x}"],
    },
]
DEB_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} fleet: {msg}", flush=True)


@contextmanager
def machine_lock(name: str):
    RUN.mkdir(parents=True, exist_ok=True)
    with open(RUN / f"{name}.lock", "w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def stop_process(pid: int, seconds: float = 5.0) -> None:
    """SIGTERM, up to `seconds` for the process to end, then SIGKILL."""
    try:
        os.kill(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------- package proxy


def proxy_pid() -> int | None:
    try:
        pid = int(PROXY_PID.read_text().strip())
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError):
        return None
    return pid if comm.startswith("apt-cacher-ng") else None


def _proxy_answers() -> bool:
    try:
        with socket.create_connection(PROXY_LOCAL, timeout=1):
            return True
    except OSError:
        return False


def ensure_proxy() -> None:
    """The machine's apt-cacher-ng runs (started if not), on PROXY_LOCAL only."""
    with machine_lock("proxy"):
        if proxy_pid() is not None and _proxy_answers():
            return
        exe = shutil.which("apt-cacher-ng") or "/usr/sbin/apt-cacher-ng"
        if not Path(exe).exists():
            raise RuntimeError("apt-cacher-ng is not installed (apt-get install apt-cacher-ng)")
        for d in (PROXY_CACHE, PROXY_LOGS):
            d.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                exe, "-c", str(PROXY_CONF), "ForeGround=0",
                f"BindAddress={PROXY_LOCAL[0]}", f"Port={PROXY_LOCAL[1]}",
                f"CacheDir={PROXY_CACHE}", f"LogDir={PROXY_LOGS}",
                f"PidFile={PROXY_PID}", f"SocketPath={RUN / 'apt-cacher-ng.socket'}",
            ],
            check=True, stdin=subprocess.DEVNULL, capture_output=True,
        )  # fmt: skip
        for _ in range(100):
            if proxy_pid() is not None and _proxy_answers():
                log(f"package proxy apt-cacher-ng started (pid {proxy_pid()}, {PROXY_LOCAL[0]}:{PROXY_LOCAL[1]}, cache {PROXY_CACHE})")
                return
            time.sleep(0.1)
        raise RuntimeError(f"apt-cacher-ng did not come up on {PROXY_LOCAL}; see {PROXY_LOGS}")


def proxy_user(index: int, pid: int | None) -> None:
    """Records (pid) or forgets (None) fleet `index` as a user of the proxy."""
    PROXY_USERS.mkdir(parents=True, exist_ok=True)
    f = PROXY_USERS / str(index)
    if pid is None:
        f.unlink(missing_ok=True)
    else:
        f.write_text(f"{pid}\n")


def release_proxy(index: int) -> None:
    """Fleet `index` no longer uses the proxy; the last fleet to go stops it."""
    with machine_lock("proxy"):
        proxy_user(index, None)
        for f in PROXY_USERS.glob("*") if PROXY_USERS.exists() else []:
            try:
                if pid_alive(int(f.read_text().strip())):
                    return
            except (OSError, ValueError):
                pass
            f.unlink(missing_ok=True)
        pid = proxy_pid()
        if pid is not None:
            stop_process(pid)
            log(f"package proxy apt-cacher-ng stopped (pid {pid})")


def proxy_stats() -> dict[str, int]:
    """Counts from apt-cacher-ng's transfer log: files fetched from upstream (I) and served (O)."""
    fetched = served = fetched_debs = served_debs = 0
    try:
        lines = PROXY_LOG.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split("|")
        if len(parts) < 5:
            continue
        deb = parts[4].endswith(".deb")
        if parts[1] == "I":
            fetched += 1
            fetched_debs += deb
        elif parts[1] == "O":
            served += 1
            served_debs += deb
    return {"fetched": fetched, "served": served, "fetchedDebs": fetched_debs, "servedDebs": served_debs}


def forward_proxy(listen_addr: str) -> socketserver.ThreadingTCPServer:
    """listen_addr:PROXY_PORT → the machine's apt-cacher-ng, in background threads."""

    class Pipe(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            try:
                up = socket.create_connection(PROXY_LOCAL, timeout=10)
            except OSError:
                return
            up.settimeout(None)

            def pump(src: socket.socket, dst: socket.socket) -> None:
                try:
                    while data := src.recv(1 << 16):
                        dst.sendall(data)
                except OSError:
                    pass
                finally:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

            back = threading.Thread(target=pump, args=(up, self.request), daemon=True)
            back.start()
            pump(self.request, up)
            back.join()
            up.close()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server((listen_addr, PROXY_PORT), Pipe)
    threading.Thread(target=server.serve_forever, daemon=True, name="proxy-forwarder").start()
    return server


# ---------------------------------------------------------------- image builds


BUILDS: set[subprocess.Popen] = set()


def stop_builds() -> None:
    """Ends image builds this process runs (the reconciler stopping); the next start builds again."""
    for proc in list(BUILDS):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except OSError:
            pass


def recipe_hash(recipe: str, arch: str) -> str:
    h = hashlib.sha256()
    h.update((RECIPES / recipe).read_bytes())
    h.update(arch.encode())
    return h.hexdigest()[:16]


def image_dir(entry: dict, arch: str) -> Path:
    """Where a stock image's build lives: CACHE/images/<alias>-<arch>-<recipe hash> (rootfs/, built)."""
    return IMAGE_CACHE / f"{entry['alias']}-{DEB_ARCH[arch]}-{recipe_hash(entry['recipe'], arch)}"


def is_built(rootfs: str | Path) -> bool:
    return (Path(rootfs).parent / "built").exists()


def ensure_image(entry: dict, arch: str) -> Path:
    """The cached root filesystem of a stock image, built first if its recipe changed (machine-wide lock)."""
    deb_arch = DEB_ARCH[arch]
    final = image_dir(entry, arch)
    key = final.name
    if (final / "built").exists():
        return final
    IMAGE_CACHE.mkdir(parents=True, exist_ok=True)
    with machine_lock("image-build"):
        if (final / "built").exists():
            return final
        ensure_proxy()
        # Leftovers of builds that were stopped (we hold the lock: none is running).
        for old in IMAGE_CACHE.glob(".build-*"):
            subprocess.run(["rm", "-rf", "--one-file-system", str(old)], check=False)
        work = IMAGE_CACHE / f".build-{key}-{os.getpid()}"
        work.mkdir(parents=True)
        started = time.monotonic()
        log(f"building image {key} with {entry['recipe']} (first use of this recipe; about a minute or more)")
        proxy = f"http://{PROXY_LOCAL[0]}:{PROXY_LOCAL[1]}"
        with open(work / "build.log", "wb") as out:
            proc = subprocess.Popen(
                ["/bin/sh", str(RECIPES / entry["recipe"]), str(work / "rootfs"), deb_arch, proxy],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            BUILDS.add(proc)
            try:
                proc.wait()
            finally:
                BUILDS.discard(proc)
        if proc.returncode != 0:
            tail = (work / "build.log").read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"image {key}: {entry['recipe']} failed ({proc.returncode}):\n" + "\n".join(tail))
        (work / "built").write_text(json.dumps({"date": time.strftime("%Y%m%d"), "seconds": round(time.monotonic() - started, 1)}))
        os.rename(work, final)
        log(f"image {key} built in {time.monotonic() - started:.0f}s")
        prune_older(final)
        return final


def prune_older(current: Path) -> None:
    """Removes builds of the same image from older recipes that no host has mounted (any mount namespace)."""
    prefix = current.name.rsplit("-", 1)[0] + "-"
    mounts = ""
    for info in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            mounts += info.read_text()
        except OSError:
            pass
    import layers  # noqa: PLC0415 - layers imports this module

    stacked = layers.referenced()  # images made from hosts stack on their build
    for old in IMAGE_CACHE.glob(prefix + "*"):
        if old != current and old.is_dir() and str(old) not in mounts and str(old / "rootfs") not in stacked:
            subprocess.run(["rm", "-rf", "--one-file-system", str(old)], check=False)
            log(f"image {old.name}: older recipe, unused: removed")


def build_info(path: Path) -> dict:
    try:
        return json.loads((path / "built").read_text())
    except (OSError, ValueError):
        return {"date": time.strftime("%Y%m%d")}


def local_arch() -> str:
    return {"x86_64": "x86_64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


# ---------------------------------------------------------------- LocalStack records


def _register(client, name: str, description: str, arch: str, root: str, tag: str, existing: dict) -> str:
    if name in existing:
        return existing[name]
    image_id = client.register_image(
        Name=name,
        Description=description,
        Architecture=arch,
        RootDeviceName=root,
        VirtualizationType="hvm",
        EnaSupport=True,
        BootMode="uefi-preferred",
        BlockDeviceMappings=[{"DeviceName": root, "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "DeleteOnTermination": True}}],
    )["ImageId"]
    client.create_tags(Resources=[image_id], Tags=[{"Key": IMAGE_TAG, "Value": tag}])
    return image_id


def _put_param(ssm, name: str, value: str, what: str) -> None:
    try:
        if ssm.get_parameter(Name=name)["Parameter"]["Value"] == value:
            return
    except ssm.exceptions.ParameterNotFound:
        pass
    ssm.put_parameter(
        Name=name, Value=value, Type="String", DataType="aws:ec2:image", Overwrite=True,
        Description=f"{PUBLISHER_MARK} {what}",
    )  # fmt: skip


def build_missing(published: dict[str, dict]) -> None:
    """Builds the stock images of `published` that are not built yet (one at a time, machine-wide lock)."""
    for v in published.values():
        if v["kind"] == "stock" and not is_built(v["rootfs"]):
            entry = next(e for e in CATALOGUE if e["alias"] == v["alias"])
            ensure_image(entry, v["arch"])


def publish(client, ssm) -> dict[str, dict]:
    """Registers every image as an AMI and writes its SSM parameters; builds nothing (build_missing does).

    Returns {ami id: {alias, arch, name, kind: stock|record|machine, rootfs, login}}. A stock image's
    rootfs may not be built yet: hosts for it wait until it is.
    """
    here = local_arch()
    existing: dict[str, str] = {}
    out: dict[str, dict] = {}
    for img in client.describe_images(Owners=["self"])["Images"]:
        tags = {t["Key"]: t["Value"] for t in img.get("Tags", [])}
        if IMAGE_TAG in tags and img.get("Name"):
            existing[img["Name"]] = img["ImageId"]
            # Registered from an older recipe: no longer bootable (overwritten below if still current).
            out[img["ImageId"]] = {
                "alias": tags[IMAGE_TAG], "arch": img.get("Architecture", ""), "name": img["Name"], "login": "",
                "kind": "record", "rootfs": None,
            }  # fmt: skip
    for entry in CATALOGUE:
        rootfs: Path | None = None
        info = {"date": "20250610"}
        if entry.get("recipe"):
            rootfs = image_dir(entry, here)
            info = build_info(rootfs)  # today's date until built
            build_no = int(recipe_hash(entry["recipe"], here)[:6], 16) % 10000
        for arch in entry["arches"]:
            fmt = {"a": DEB_ARCH[arch], "x": arch, "date": info["date"], "build": f"{build_no:04d}" if entry.get("recipe") else ""}
            name = entry["name"].format(**fmt)
            bootable = rootfs is not None and arch == here
            image_id = _register(client, name, entry["description"].format(**fmt), arch, entry["root"], entry["alias"], existing)
            for p in entry["params"]:
                _put_param(ssm, p.format(**fmt), image_id, f"{entry['alias']} {arch}")
            out[image_id] = {
                "alias": entry["alias"], "arch": arch, "name": name, "login": entry["login"],
                "kind": "stock" if bootable else "record", "rootfs": str(rootfs / "rootfs") if bootable else None,
            }  # fmt: skip
    machine = _register(client, MACHINE_IMAGE_NAME, "starcluster test fleet: this machine's userland (fast)", here, "/dev/xvda", "fleet-host", existing)
    out[machine] = {"alias": "fleet-host", "arch": here, "name": MACHINE_IMAGE_NAME, "login": "root", "kind": "machine", "rootfs": None}
    return out
