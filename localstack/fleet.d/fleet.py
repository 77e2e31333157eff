"""The test fleet: every running LocalStack instance in the fleet subnet becomes a real host.

LocalStack's EC2 records instances but boots nothing. The fleet gives each running instance a
network namespace on a Linux bridge at the instance's private IP, its own hostname (UTS
namespace) and the root filesystem of its ImageId (images.py):
- a stock image (Debian 12, built from Debian's packages): an overlay on the image, which runs its
  own userland; cloud-init sets it up from the instance's user data and key pair (host-init-stock.sh);
- anything else: the fast host, an overlay over this machine's / (so /etc, users, host keys and
  installed packages are per host), empty private /root and /home, and an sshd on port 22 that
  trusts the public key of the key pair the instance was launched with (root by key only).

Commands (run as root, usually through ../fleet):
  start   bridge + VPC/subnet in LocalStack + background reconciler
  stop    reconciler, every host and the bridge are removed
  status  one line per host: instance id, cluster tag, address, hostname pid
  subnet  the fleet subnet id (creates the VPC/subnet if needed)
  info    this fleet's index, bridge, gateway address and subnet CIDR, proxy (key=value lines)
  images  the AMIs the fleet registered: id, alias, architecture, kind, name
  layers  the images made from hosts (CreateImage, see layers.py): id, kind, base image, directory
  build-images  waits until the stock images are built (the reconciler builds them in the background)
  proxy-stats  the package proxy's counts (files fetched upstream, served), as JSON
  reconcile  run the reconciler in the foreground (what `start` runs in the background)

Several fleets run side by side, one per checkout: each claims an index N (see _claim_index) and
uses bridge scfleetN and the N-th /20 of 198.18.0.0/15. Traffic stays on loopback and
198.18.0.0/15: hosts get no default route, the bridge is not forwarded anywhere (ip_forward is
left as it is; the bridge has no uplink), and 198.18.0.0/15 outside running fleets is unreachable.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import images  # noqa: E402 - next to this file
import layers  # noqa: E402 - next to this file
STATE = Path(os.environ.get("FLEET_STATE", HERE.parent / ".state" / "fleet"))
HOSTS = STATE / "hosts"
PID_FILE = STATE / "reconciler.pid"
LOG_FILE = STATE / "reconciler.log"
SUBNET_FILE = STATE / "subnet"
IMAGES_FILE = STATE / "images.json"
IMAGE_REQUESTS = STATE / "image-requests"  # CreateImage of fleet hosts (see layers.py)
REBOOT_REQUESTS = STATE / "reboot-requests"  # RebootInstances of fleet hosts (LocalStack's init hook)
layers.MACHINE_ROOT = HOSTS / ".layers"  # on the hosts' tmpfs, off / (see layers.py)

FLEET_TAG = "starcluster:fleet"
POLL_SECONDS = float(os.environ.get("FLEET_POLL_SECONDS", "1"))

# ---------------------------------------------------------------- which slice of 198.18.0.0/15
#
# Several fleets may run on one machine, one per checkout (each with its own LocalStack). Each
# gets an index N (0..31), claimed machine-wide under a lock and kept for its checkout, and
# from it: bridge scfleetN, VPC and subnet 198.18.0.0/15's N-th /20 (N=0: 198.18.0.0/20), gateway
# (the bridge's address, AWS's VPC router address) the /20's .1, namespaces sc{N}-<instance>.
# FLEET_INDEX asks for a given index (an error if another checkout holds it). One checkout (CI)
# gets index 0: scfleet0, 198.18.0.0/20, gateway 198.18.0.1.

SLOTS = Path(os.environ.get("FLEET_SLOTS", "/run/starcluster-fleet/slots"))
SLOT_COUNT = 32  # 198.18.0.0/15 holds 32 /20s
CHECKOUT = str(HERE.parent.parent)
INDEX_FILE = STATE / "index"
PREFIX = 20


def _claim_index() -> int:
    """This checkout's fleet index: the slot it already holds, else FLEET_INDEX or the first free one."""
    import fcntl

    wanted = os.environ.get("FLEET_INDEX")
    if os.geteuid() != 0:
        # Only root claims; others (status, subnet) read what the fleet recorded.
        try:
            return int(INDEX_FILE.read_text().strip())
        except (OSError, ValueError):
            return int(wanted or 0)
    SLOTS.mkdir(parents=True, exist_ok=True)
    with open(SLOTS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        owners: dict[int, str] = {}
        for f in SLOTS.iterdir():
            if f.name.isdigit():
                owners[int(f.name)] = f.read_text().strip()
        mine = [n for n, owner in owners.items() if owner == CHECKOUT]

        def free(n: int) -> bool:
            # A slot whose checkout is gone is free again; a bridge of that name that no slot
            # explains (a fleet of an older checkout, before slots) keeps it taken.
            if n in owners:
                return owners[n] == CHECKOUT or not Path(owners[n]).exists()
            return not Path(f"/sys/class/net/scfleet{n}").exists()

        if wanted is not None:
            n = int(wanted)
            if not 0 <= n < SLOT_COUNT:
                sys.exit(f"fleet: FLEET_INDEX must be 0..{SLOT_COUNT - 1} (got {wanted})")
            if not free(n):
                sys.exit(f"fleet: FLEET_INDEX {n} is held by the fleet of {owners[n]}")
        elif mine:
            n = min(mine)
        else:
            n = next((i for i in range(SLOT_COUNT) if free(i)), -1)
            if n < 0:
                sys.exit(f"fleet: all {SLOT_COUNT} fleet slots are taken (see {SLOTS})")
        for other in mine:
            if other != n:
                (SLOTS / str(other)).unlink(missing_ok=True)
        (SLOTS / str(n)).write_text(CHECKOUT + "\n")
    STATE.mkdir(parents=True, exist_ok=True)
    INDEX_FILE.write_text(f"{n}\n")
    return n


def _slice(n: int) -> tuple[str, str]:
    """The N-th /20 of 198.18.0.0/15: (network address, gateway address)."""
    third = 16 * n  # 198.18.0.0, 198.18.16.0, ..., 198.19.240.0
    second, third = 18 + third // 256, third % 256
    return f"198.{second}.{third}.0", f"198.{second}.{third}.1"


INDEX = _claim_index()
_NET, BRIDGE_ADDR = _slice(INDEX)
BRIDGE = os.environ.get("FLEET_BRIDGE", f"scfleet{INDEX}")
VPC_CIDR = f"{_NET}/{PREFIX}"
SUBNET_CIDR = f"{_NET}/{PREFIX}"
FLEET_RANGE = "198.18.0.0/15"



def _endpoint() -> str:
    """AWS_ENDPOINT_URL, else the endpoint localstack/start.sh recorded, else LocalStack's default."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return os.environ["AWS_ENDPOINT_URL"]
    recorded = HERE.parent / ".state" / "localstack.endpoint"
    if recorded.exists() and recorded.read_text().strip():
        return recorded.read_text().strip()
    return "http://127.0.0.1:4566"


ENDPOINT = _endpoint()
REGION = os.environ.get("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))



def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} fleet: {msg}", flush=True)


def run(*cmd: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, text=True, capture_output=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
    if not quiet and res.returncode != 0:
        log(f"warning: {' '.join(cmd)}: {res.stderr.strip()}")
    return res


def need_root() -> None:
    if os.geteuid() != 0:
        sys.exit("fleet: needs root (network namespaces, bridge, overlay mounts); run it with sudo")


# ---------------------------------------------------------------- LocalStack (boto3)


def ec2(service: str = "ec2"):
    import boto3  # from localstack/.venv

    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def ensure_subnet(client) -> str:
    """The fleet's VPC and subnet, found by tag or created (idempotent)."""
    flt = [{"Name": f"tag:{FLEET_TAG}", "Values": ["1"]}]
    # Only the VPC/subnet of this fleet's slice (a LocalStack reused after the slice changed has others).
    subnets = [s for s in client.describe_subnets(Filters=flt)["Subnets"] if s["CidrBlock"] == SUBNET_CIDR]
    if subnets:
        subnet_id = subnets[0]["SubnetId"]
    else:
        vpcs = [v for v in client.describe_vpcs(Filters=flt)["Vpcs"] if v["CidrBlock"] == VPC_CIDR]
        if vpcs:
            vpc_id = vpcs[0]["VpcId"]
        else:
            vpc_id = client.create_vpc(
                CidrBlock=VPC_CIDR,
                TagSpecifications=[
                    {
                        "ResourceType": "vpc",
                        "Tags": [{"Key": FLEET_TAG, "Value": "1"}, {"Key": "Name", "Value": "starcluster-fleet"}],
                    }
                ],
            )["Vpc"]["VpcId"]
        # A fixed zone: left to LocalStack, the subnet lands in a random one, and some (us-east-1e) offer no
        # t3 types, so start's offering check would refuse the tests' clusters one run in six.
        subnet_id = client.create_subnet(
            VpcId=vpc_id,
            CidrBlock=SUBNET_CIDR,
            AvailabilityZone=f"{REGION}a",
            TagSpecifications=[
                {
                    "ResourceType": "subnet",
                    "Tags": [{"Key": FLEET_TAG, "Value": "1"}, {"Key": "Name", "Value": "starcluster-fleet"}],
                }
            ],
        )["Subnet"]["SubnetId"]
    STATE.mkdir(parents=True, exist_ok=True)
    SUBNET_FILE.write_text(subnet_id + "\n")
    return subnet_id


def running_instances(client, subnet_id: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    pages = client.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}]
    )
    for page in pages:
        for res in page["Reservations"]:
            for inst in res["Instances"]:
                if inst.get("SubnetId") != subnet_id or not inst.get("PrivateIpAddress"):
                    continue
                tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                out[inst["InstanceId"]] = {
                    "ip": inst["PrivateIpAddress"],
                    "key": inst.get("KeyName"),
                    "cluster": tags.get("starcluster:cluster", ""),
                    "image": inst.get("ImageId", ""),
                    "type": inst.get("InstanceType", ""),
                    "root_device": inst.get("RootDeviceName", ""),
                }
    return out


def public_key(client, key_name: str | None, cache: dict[str, str]) -> str:
    """OpenSSH public key of a key pair: DescribeKeyPairs(IncludePublicKey), else a file drop."""
    if not key_name:
        return ""
    if key_name in cache:
        return cache[key_name]
    key = ""
    try:
        pairs = client.describe_key_pairs(KeyNames=[key_name], IncludePublicKey=True)["KeyPairs"]
        key = (pairs[0].get("PublicKey") or "").strip() if pairs else ""
    except Exception as exc:  # noqa: BLE001 - the key may be gone; the host then trusts nothing
        log(f"describe_key_pairs {key_name}: {exc}")
    drop = STATE / "keys" / f"{key_name}.pub"
    if not key and drop.exists():
        key = drop.read_text().strip()
    if key:
        cache[key_name] = key
    return key


# ---------------------------------------------------------------- bridge


def bridge_up() -> None:
    if run("ip", "link", "show", BRIDGE, check=False, quiet=True).returncode != 0:
        run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "replace", f"{BRIDGE_ADDR}/{PREFIX}", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    # Addresses of 198.18.0.0/15 that no running fleet's bridge covers are unreachable here, rather
    # than sent to this machine's default route (the more specific /20 of each bridge wins).
    run("ip", "route", "replace", "unreachable", FLEET_RANGE, check=False)


def bridge_down() -> None:
    run("ip", "link", "del", BRIDGE, check=False, quiet=True)


def hosts_fs_up() -> None:
    """Host state lives on its own tmpfs: an overlay's upper dir may not sit inside its lower (/)."""
    HOSTS.mkdir(parents=True, exist_ok=True)
    if run("mountpoint", "-q", str(HOSTS), check=False, quiet=True).returncode != 0:
        run("mount", "-t", "tmpfs", "-o", "mode=0700", "fleet-hosts", str(HOSTS))


# ---------------------------------------------------------------- hosts


NETNS_PREFIX = f"sc{INDEX}-"


def netns_name(instance_id: str) -> str:
    return f"{NETNS_PREFIX}{instance_id}"


def veth_name(instance_id: str) -> str:
    return f"s{INDEX}v{instance_id[-10:]}"[:15]


def host_dir(instance_id: str) -> Path:
    return HOSTS / instance_id


def read_host(instance_id: str) -> dict | None:
    try:
        return json.loads((host_dir(instance_id) / "host.json").read_text())
    except (OSError, ValueError):
        return None


pid_alive = images.pid_alive


HOST_INIT = HERE / "host-init.sh"
HOST_INIT_STOCK = HERE / "host-init-stock.sh"


def user_data(client, instance_id: str) -> bytes:
    """The instance's user data (DescribeInstanceAttribute userData), decoded; b"" when none."""
    attr = client.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    value = (attr.get("UserData") or {}).get("Value") or ""
    return base64.b64decode(value) if value else b""


def host_up(
    instance_id: str,
    ip: str,
    pubkey: str,
    cluster: str,
    image: dict | None = None,
    data: bytes = b"",
    instance_type: str = "",
    root_device: str = "",
    layer: dict | None = None,
) -> None:
    """Network namespace + veth on the bridge at `ip`, then the host's init in new UTS/mount/pid namespaces.

    `image` (a fleet stock image: images.publish) boots that image's root filesystem with
    host-init-stock.sh, the key and user data handed over as a NoCloud seed; else host-init.sh
    makes today's fast host, a copy-on-write view of this machine. `layer` (an image made from a
    host: layers.py) boots the image it was made from with the layer on top.
    """
    started = time.monotonic()
    ns, veth = netns_name(instance_id), veth_name(instance_id)
    hdir = host_dir(instance_id)
    host_down(instance_id, quiet=True)
    for sub in ("upper", "work", "merged", "root", "home"):
        (hdir / sub).mkdir(parents=True, exist_ok=True)
    (hdir / "authorized_keys").write_text(pubkey + "\n" if pubkey else "")
    hostname = "ip-" + ip.replace(".", "-")
    if layer and layer["kind"] == "stock":
        image = {"name": layer["name"], "base": layer["base"], "lower": layer["lower"], "login": layer["login"]}
    elif image:
        image = {**image, "base": image["name"], "lower": [image["rootfs"]]}
    lower = image["lower"] if image else (layer["lower"] if layer else ["/"])
    if layer and layer["kind"] == "machine":
        # The fast host's private /root and /home, as they were on the host the image was made from.
        for part in ("root", "home"):
            subprocess.run(["cp", "-a", f"{layer['dir']}/{part}/.", str(hdir / part)], check=True)
    if image:
        seed = hdir / "seed"
        seed.mkdir()
        meta = {"instance-id": instance_id, "local-hostname": hostname, "public-keys": [pubkey] if pubkey else []}
        (seed / "meta-data").write_text(json.dumps(meta, indent=1) + "\n")
        (seed / "user-data").write_bytes(data)
        (seed / "vendor-data").write_text("")
        init = ["/bin/sh", str(HOST_INIT_STOCK), str(hdir), hostname, ip, ":".join(lower), BRIDGE_ADDR]
    else:
        init = ["/bin/sh", str(HOST_INIT), str(hdir), hostname, ip, ":".join(lower)]
    run("ip", "netns", "add", ns)
    run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
    run("ip", "link", "set", veth, "master", BRIDGE, "up")
    run("ip", "-n", ns, "addr", "add", f"{ip}/{PREFIX}", "dev", "eth0")
    run("ip", "-n", ns, "link", "set", "eth0", "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    what = image["name"] if image else (layer["name"] if layer else "machine overlay")
    info = {
        "id": instance_id, "ip": ip, "cluster": cluster, "netns": ns, "veth": veth,
        "image": what, "stock": bool(image), "type": instance_type, "root_device": root_device,
        # What a snapshot of this host stacks on (layers.py): its image's lower dirs, top first.
        "kind": "stock" if image else "machine", "lower": lower,
        "base": image["base"] if image else (layer["base"] if layer else "this machine"),
        "login": image.get("login", "admin") if image else "root", "init": init,
        "layer": layer["image"] if layer else None,
    }  # fmt: skip
    info["pid"] = start_init(hdir, ns, init)
    (hdir / "host.json").write_text(json.dumps(info))
    log(f"host {instance_id} {ip} ({cluster or '-'}, {what}) up in {time.monotonic() - started:.2f}s, pid {info['pid']}")


# How a host's init ended, as the shell that waits for it records it in the host dir's `exit`: 130
# (SIGINT) when the host halted or powered off, 129 (SIGHUP) when it rebooted. The kernel gives
# these when a process of the host calls reboot(2) (`poweroff -f`), host-pid1.sh when shutdown,
# poweroff, halt or reboot ask it through /run/initctl. See power_events.
POWER_OFF, REBOOT = 130, 129


def start_init(hdir: Path, ns: str, init: list[str]) -> int:
    """Starts a host's init in new UTS, mount and pid namespaces inside its network namespace.
    Returns the pid of the shell that waits for it (the leader of its process group)."""
    (hdir / "exit").unlink(missing_ok=True)
    logf = open(hdir / "host.log", "ab")
    proc = subprocess.Popen(
        [
            "/bin/sh", "-c", 'out=$1; shift; "$@"; echo $? > "$out.tmp" && mv "$out.tmp" "$out"', "host-init",
            str(hdir / "exit"),
            "ip", "netns", "exec", ns,
            "unshare", "--uts", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private",
            *init,
        ],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True,
    )  # fmt: skip
    return proc.pid


def stop_init(info: dict) -> None:
    """Ends a host's init and, with it (unshare --kill-child), every process of the host."""
    pid = info.get("pid")
    if isinstance(pid, int) and pid_alive(pid):
        try:
            # The waiting shell, unshare and the host's init: the process group start_init made.
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                # Our own child (the reconciler started it): reap it, or it lingers as a zombie.
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                if not pid_alive(pid):
                    break
            time.sleep(0.02)


def host_down(instance_id: str, quiet: bool = False) -> None:
    info = read_host(instance_id) or {}
    attached = host_volumes(instance_id)
    stop_init(info)
    ns = netns_name(instance_id)
    # Anything still running in the netns (should be nothing) goes too.
    pids = run("ip", "netns", "pids", ns, check=False, quiet=True).stdout.split()
    for p in pids:
        try:
            os.kill(int(p), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    run("ip", "link", "del", veth_name(instance_id), check=False, quiet=True)
    run("ip", "netns", "del", ns, check=False, quiet=True)
    for vol in attached.values():
        # Busy (a mount still going away with the host's namespace): the kernel frees it when unused.
        run("losetup", "-d", vol["loop"], check=False, quiet=True)
    hdir = host_dir(instance_id)
    if hdir.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(hdir)], check=False)
    if info and not quiet:
        log(f"host {instance_id} {info.get('ip')} removed")


def reboot_host(instance_id: str, while_down=None, ended: bool = False) -> None:
    """EC2's reboot: every process of the host ends, its disk (the overlay's upper dir, /root, /home)
    and its network stay, and its init starts again. `while_down` runs in between (a snapshot).
    `ended`: its init has already ended (a reboot from inside), there is nothing to stop."""
    info = read_host(instance_id)
    if not info or not info.get("init"):
        raise RuntimeError(f"host {instance_id} cannot be rebooted (started by an older fleet)")
    if not ended:
        stop_init(info)
    for _ in range(250):
        # The pid namespace empties right after its init dies; wait for it, so nothing writes to the disk.
        pids = run("ip", "netns", "pids", info["netns"], check=False, quiet=True).stdout.split()
        if not pids:
            break
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        time.sleep(0.02)
    # The volumes' device nodes lived in the host's /dev: sync_volumes attaches them again after the boot.
    for vol in host_volumes(instance_id).values():
        run("losetup", "-d", vol["loop"], check=False, quiet=True)
    (host_dir(instance_id) / "volumes.json").unlink(missing_ok=True)
    try:
        if while_down:
            while_down()
    finally:
        info["pid"] = start_init(host_dir(instance_id), info["netns"], info["init"])
        (host_dir(instance_id) / "host.json").write_text(json.dumps(info))
        log(f"host {instance_id} {info.get('ip')} rebooted, pid {info['pid']}")


def power_events(client) -> None:
    """Hosts whose init ended on its own (start_init records how). Powered off or halted: what EC2
    does with an instance that shuts itself down, by its InstanceInitiatedShutdownBehavior:
    `terminate` → TerminateInstances, `stop` → StopInstances (the host then goes with the instance,
    as any host does). Rebooted: its init starts again, as EC2 reboots an instance. Anything else
    (its init failed): logged once; the host stays down, an instance whose OS died."""
    for iid in known_hosts():
        done = host_dir(iid) / "exit"
        try:
            status = int(done.read_text().strip())
        except (OSError, ValueError):
            continue
        try:
            if status == REBOOT:
                log(f"host {iid}: rebooted from inside")
                reboot_host(iid, ended=True)
            elif status == POWER_OFF:
                attr = client.describe_instance_attribute(InstanceId=iid, Attribute="instanceInitiatedShutdownBehavior")
                behaviour = attr["InstanceInitiatedShutdownBehavior"]["Value"]
                if behaviour == "terminate":
                    client.terminate_instances(InstanceIds=[iid])
                else:
                    client.stop_instances(InstanceIds=[iid])
                log(f"host {iid}: powered off from inside; InstanceInitiatedShutdownBehavior={behaviour}: instance {'terminated' if behaviour == 'terminate' else 'stopped'}")
                done.rename(done.with_suffix(".seen"))
            else:
                log(f"host {iid}: its init ended (status {status}); the host stays down")
                done.rename(done.with_suffix(".seen"))
        except Exception as exc:  # noqa: BLE001 - LocalStack busy: the record stays, tried again next round
            log(f"host {iid}: power event (status {status}): {exc}")


def answer_reboot_requests() -> None:
    """RebootInstances of fleet hosts (LocalStack's init hook leaves a file per instance and call):
    each host reboots once per round, however many calls asked; an instance with no host (stopped,
    or its image does not boot here) has nothing to reboot."""
    if not REBOOT_REQUESTS.exists():
        return
    asked = sorted(REBOOT_REQUESTS.iterdir())
    for iid in sorted({f.name.split(".")[0] for f in asked}):
        try:
            if read_host(iid):
                log(f"host {iid}: RebootInstances")
                reboot_host(iid)
        except Exception as exc:  # noqa: BLE001 - reported; the host stays as it is
            log(f"host {iid}: reboot: {exc}")
    for f in asked:
        f.unlink(missing_ok=True)


def known_hosts() -> list[str]:
    if not HOSTS.exists():
        return []
    return sorted(p.name for p in HOSTS.iterdir() if (p / "host.json").exists())


# ---------------------------------------------------------------- EBS volumes
#
# An EBS volume attached to a stock host becomes a block device inside it: a sparse file (its data,
# kept while the volume exists in LocalStack) on a loop device, with a device node in the host's
# own /dev named as EC2 names it: on Nitro types /dev/nvmeNn1 plus the udev link
# /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol<id>; on Xen types (t2, m4, ...) /dev/xvdX from
# the attachment's device name. Fast hosts see this machine's /dev and get no volumes.

VOLUMES = STATE / "volumes"
XEN_FAMILIES = {"t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "r3", "r4", "i2", "d2", "x1", "x1e", "g2", "g3", "p2", "h1"}


def host_volumes(instance_id: str) -> dict[str, dict]:
    try:
        return json.loads((host_dir(instance_id) / "volumes.json").read_text())
    except (OSError, ValueError):
        return {}


def host_init_pid(info: dict) -> int | None:
    """Pid (here) of the host's init: the first process, below the one start_init started, that
    lives in a pid namespace of its own."""
    pid = info.get("pid")
    try:
        mine = os.readlink("/proc/self/ns/pid")
        for _ in range(4):
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            if not children:
                return None
            pid = int(children[0])
            if os.readlink(f"/proc/{pid}/ns/pid") != mine:
                return pid
    except (OSError, ValueError):
        return None
    return None


def device_name(instance_type: str, attach_device: str, taken: set[str]) -> tuple[str, bool]:
    """(name under /dev, nitro?) for a volume attached at `attach_device` (e.g. /dev/sdf)."""
    family = instance_type.split(".")[0]
    if family in XEN_FAMILIES:
        letter = attach_device.rstrip("0123456789")[-1:] or "f"
        return f"xvd{letter}", False
    n = 1
    while f"nvme{n}n1" in taken:
        n += 1
    return f"nvme{n}n1", True


def attach_volume(instance_id: str, info: dict, vol: dict) -> None:
    import stat

    vid, size = vol["VolumeId"], int(vol.get("Size") or 1)
    attached = host_volumes(instance_id)
    pid1 = host_init_pid(info)
    if pid1 is None:
        return
    root = os.stat(f"/proc/{pid1}/root")
    here = os.stat("/")
    if (root.st_dev, root.st_ino) == (here.st_dev, here.st_ino):
        return  # not in its own root yet (host-init-stock.sh sets up /dev, then chroots): next round
    dev = Path(f"/proc/{pid1}/root/dev")
    VOLUMES.mkdir(parents=True, exist_ok=True)
    img = VOLUMES / f"{vid}.img"
    if not img.exists():
        with open(img, "wb") as f:
            f.truncate(size << 30)  # sparse: blank until written
    loop = run("losetup", "--find", "--show", str(img)).stdout.strip()
    rdev = os.stat(loop).st_rdev
    att = next((a for a in vol.get("Attachments", []) if a.get("InstanceId") == instance_id), {})
    name, nitro = device_name(info.get("type", ""), att.get("Device", "/dev/sdf"), {v["dev"] for v in attached.values()})
    os.mknod(dev / name, 0o660 | stat.S_IFBLK, rdev)
    os.chown(dev / name, 0, 6)  # group disk
    link = None
    if nitro:
        link = dev / "disk" / "by-id" / f"nvme-Amazon_Elastic_Block_Store_{vid.replace('-', '')}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"../../{name}")
    attached[vid] = {"loop": loop, "dev": name, "link": link.name if link else None}
    (host_dir(instance_id) / "volumes.json").write_text(json.dumps(attached))
    log(f"host {instance_id}: volume {vid} ({size} GiB) attached as /dev/{name}{' (' + link.name + ')' if link else ''} on {loop}")


def detach_volume(instance_id: str, info: dict, vid: str) -> None:
    attached = host_volumes(instance_id)
    vol = attached.pop(vid, None)
    if not vol:
        return
    pid1 = host_init_pid(info)
    if pid1 is not None:
        dev = Path(f"/proc/{pid1}/root/dev")
        (dev / vol["dev"]).unlink(missing_ok=True)
        if vol.get("link"):
            (dev / "disk" / "by-id" / vol["link"]).unlink(missing_ok=True)
    run("losetup", "-d", vol["loop"], check=False)
    (host_dir(instance_id) / "volumes.json").write_text(json.dumps(attached))
    log(f"host {instance_id}: volume {vid} detached")


def sync_volumes(client) -> None:
    """Stock hosts' block devices follow LocalStack's attachments; deleted volumes' files go."""
    vols = client.describe_volumes()["Volumes"]
    exists = {v["VolumeId"] for v in vols}
    hosts = {iid: read_host(iid) or {} for iid in known_hosts()}
    for iid, info in hosts.items():
        if not info.get("stock"):
            continue
        want = {
            v["VolumeId"]: v
            for v in vols
            for a in v.get("Attachments", [])
            if a.get("InstanceId") == iid
            and a.get("State") in ("attached", "attaching")
            # The root volume is the host's own root filesystem, not a block device (moto attaches
            # it at /dev/sda1 whatever the AMI's root device name).
            and a.get("Device") not in {info.get("root_device"), "/dev/sda1", "/dev/xvda"}
        }
        have = host_volumes(iid)
        for vid in sorted(set(have) - set(want)):
            detach_volume(iid, info, vid)
        for vid in sorted(set(want) - set(have)):
            try:
                attach_volume(iid, info, want[vid])
            except Exception as exc:  # noqa: BLE001 - reported; tried again next round
                log(f"host {iid}: volume {vid}: {exc}")
    if VOLUMES.exists():
        in_use = {vid for iid in hosts for vid in host_volumes(iid)}
        for img in VOLUMES.glob("vol-*.img"):
            if img.stem not in exists and img.stem not in in_use:
                img.unlink(missing_ok=True)


# ---------------------------------------------------------------- images of hosts (CreateImage)


def image_requests() -> dict[str, Path]:
    """CreateImage requests LocalStack left for this fleet and the fleet has not answered: {ami: file}."""
    if not IMAGE_REQUESTS.exists():
        return {}
    return {
        f.stem: f
        for f in sorted(IMAGE_REQUESTS.glob("ami-*.json"))
        if not f.with_suffix(".done").exists() and not f.with_suffix(".failed").exists()
    }


def answer_image_requests() -> None:
    """Each CreateImage of a fleet host: reboot it (unless NoReboot) and snapshot its disk into a layer;
    then LocalStack shows the image `available` (or `failed`, with the reason)."""
    for image_id, req in image_requests().items():
        try:
            body = json.loads(req.read_text())
            iid = body["instance"]
            info = read_host(iid)
            if info is None:
                raise RuntimeError(f"instance {iid} has no fleet host (stopped, or its image does not boot here): nothing to image")

            def snap() -> None:
                layers.snapshot(image_id, host_dir(iid), info, CHECKOUT, iid)

            if body.get("noReboot"):
                snap()
            else:
                reboot_host(iid, snap)
            req.with_suffix(".done").write_text("")
        except Exception as exc:  # noqa: BLE001 - the image fails with the reason, as EC2's does
            log(f"image {image_id}: {exc}")
            req.with_suffix(".failed").write_text(f"{exc}\n")


def drop_gone_images(client) -> None:
    """Layers (and requests) whose AMI is gone: deregistered, or its LocalStack replaced."""
    mine = layers.load(CHECKOUT)
    reqs = sorted(IMAGE_REQUESTS.glob("ami-*.json")) if IMAGE_REQUESTS.exists() else []
    if not mine and not reqs:
        return
    ids = {i["ImageId"] for i in client.describe_images(Owners=["self"])["Images"]}
    # A running host keeps booting from its layer (as an EC2 instance outlives its AMI); so do layers over it.
    used = {(read_host(h) or {}).get("layer") for h in known_hosts()}
    stacked = layers.referenced()
    for image_id, meta in mine.items():
        if image_id not in ids and image_id not in used and f"{meta['dir']}/upper" not in stacked:
            layers.drop(image_id, "its AMI is gone")
    for req in reqs:
        if req.stem not in ids:
            for suffix in (".json", ".done", ".failed"):
                req.with_suffix(suffix).unlink(missing_ok=True)


# ---------------------------------------------------------------- reconciler


def load_images() -> dict[str, dict]:
    try:
        return json.loads(IMAGES_FILE.read_text())
    except (OSError, ValueError):
        return {}


def reconcile_forever() -> None:
    need_root()
    client = ec2()
    subnet_id = ensure_subnet(client)
    bridge_up()
    hosts_fs_up()
    keys: dict[str, str] = {}
    images.proxy_user(INDEX, os.getpid())
    try:
        images.ensure_proxy()
        images.forward_proxy(BRIDGE_ADDR)
    except Exception as exc:  # noqa: BLE001 - fast hosts need no proxy; stock hosts then reach no packages
        log(f"package proxy unavailable, stock hosts will reach no packages: {exc}")

    def build() -> None:
        try:
            images.build_missing(load_images())
        except Exception as exc:  # noqa: BLE001 - reported; hosts for the image keep waiting
            log(f"image build failed: {exc}")

    threading.Thread(target=build, daemon=True, name="image-build").start()
    layers.prune_orphans()
    log(f"reconciling instances of subnet {subnet_id} against {ENDPOINT}; package proxy on {BRIDGE_ADDR}:{images.PROXY_PORT}")
    refused: set[str] = set()
    waiting: set[str] = set()
    rounds = 0
    stopping = False

    def on_term(_sig, _frm):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    while not stopping:
        try:
            want = running_instances(client, subnet_id)
            have = set(known_hosts())
            for iid in sorted(have - set(want)):
                host_down(iid)
            power_events(client)
            answer_reboot_requests()
            answer_image_requests()
            known = load_images()
            made = layers.load(CHECKOUT)
            asked = image_requests()
            for iid, inst in sorted(want.items()):
                if iid in have or iid in refused:
                    continue
                layer = made.get(inst["image"])
                if layer or inst["image"] in asked:
                    if not layer or not all(Path(d).is_dir() for d in layer["lower"]):
                        if iid not in waiting:
                            log(f"host {iid}: waiting for image {inst['image']} (made from a host) to be complete")
                            waiting.add(iid)
                        continue
                    try:
                        data = user_data(client, iid) if layer["kind"] == "stock" else b""
                        host_up(iid, inst["ip"], public_key(client, inst["key"], keys), inst["cluster"], None, data, inst["type"], inst["root_device"], layer)
                    except Exception as exc:  # noqa: BLE001 - one bad host must not stop the others
                        log(f"host {iid}: {exc}")
                        host_down(iid, quiet=True)
                    continue
                image = known.get(inst["image"])
                if image and image["kind"] == "record":
                    # Registered so aliases and architectures can be checked; nothing here can boot it.
                    log(
                        f"host {iid}: cannot boot {inst['image']} ({image['name']}, {image['alias']} {image['arch']}):"
                        " the fleet registers this image for validation only; no host for this instance"
                    )
                    refused.add(iid)
                    continue
                stock = image if image and image["kind"] == "stock" else None
                if stock and not images.is_built(stock["rootfs"]):
                    if iid not in waiting:
                        log(f"host {iid}: waiting for image {stock['name']} to be built")
                        waiting.add(iid)
                    continue
                try:
                    data = user_data(client, iid) if stock else b""
                    host_up(iid, inst["ip"], public_key(client, inst["key"], keys), inst["cluster"], stock, data, inst["type"], inst["root_device"])
                except Exception as exc:  # noqa: BLE001 - one bad host must not stop the others
                    log(f"host {iid}: {exc}")
                    host_down(iid, quiet=True)
            refused &= set(want)
            waiting &= set(want)
            sync_volumes(client)
            drop_gone_images(client)
            rounds += 1
            if rounds % 30 == 0:
                try:
                    images.ensure_proxy()
                except Exception as exc:  # noqa: BLE001 - reported; tried again later
                    log(f"package proxy: {exc}")
        except Exception as exc:  # noqa: BLE001 - LocalStack restarting: try again next round
            log(f"poll failed: {exc}")
        # Reap finished children (hosts whose init died) without blocking.
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(POLL_SECONDS)
    images.stop_builds()
    log("reconciler stopped")


def reconciler_pid() -> int | None:
    try:
        pid = int(PID_FILE.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def publish_images() -> dict[str, dict]:
    """Every image registered as an AMI with its SSM parameters (stock images are built by the reconciler)."""
    out = images.publish(ec2(), ec2("ssm"))
    STATE.mkdir(parents=True, exist_ok=True)
    IMAGES_FILE.write_text(json.dumps(out, indent=1) + "\n")
    return out


def cmd_start() -> None:
    need_root()
    STATE.mkdir(parents=True, exist_ok=True)
    subnet_id = ensure_subnet(ec2())
    bridge_up()
    hosts_fs_up()
    published = publish_images()
    stock = sorted(
        f"{v['name']} {k}{'' if images.is_built(v['rootfs']) else ' (to build)'}"
        for k, v in published.items()
        if v["kind"] == "stock"
    )
    log(f"images: {len(published)} AMIs registered; bootable stock images: {', '.join(stock) or 'none'}")
    if reconciler_pid() is None:
        logf = open(LOG_FILE, "ab")
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "reconcile"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True,
        )  # fmt: skip
        PID_FILE.write_text(f"{proc.pid}\n")
        log(f"reconciler started (pid {proc.pid}, log {LOG_FILE})")
    else:
        log("reconciler already running")
    print(subnet_id)


def cmd_stop() -> None:
    need_root()
    pid = reconciler_pid()
    if pid is not None:
        images.stop_process(pid)
    PID_FILE.unlink(missing_ok=True)
    for iid in known_hosts():
        host_down(iid)
    # Leftovers from a crashed run: namespaces named by this fleet (other fleets' are theirs).
    for line in run("ip", "netns", "list", check=False, quiet=True).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(NETNS_PREFIX + "i-"):
            host_down(name[len(NETNS_PREFIX) :], quiet=True)
    # Volume data and images made from hosts live as long as this fleet (the next start may face another LocalStack).
    subprocess.run(["rm", "-rf", "--one-file-system", str(VOLUMES)], check=False)
    for image_id in layers.load(CHECKOUT):
        layers.drop(image_id, "fleet stopped")
    subprocess.run(["rm", "-rf", "--one-file-system", str(IMAGE_REQUESTS), str(REBOOT_REQUESTS)], check=False)
    if HOSTS.exists() and run("mountpoint", "-q", str(HOSTS), check=False, quiet=True).returncode == 0:
        run("umount", "-l", str(HOSTS), check=False)
    bridge_down()
    images.release_proxy(INDEX)
    log("stopped: hosts and bridge removed")


def cmd_status() -> None:
    pid = reconciler_pid()
    print(f"reconciler: {'running, pid ' + str(pid) if pid else 'not running'}")
    print(f"{'INSTANCE':<22} {'CLUSTER':<16} {'ADDRESS':<15} STATE")
    for iid in known_hosts():
        info = read_host(iid) or {}
        alive = isinstance(info.get("pid"), int) and pid_alive(info["pid"])
        print(f"{iid:<22} {info.get('cluster') or '-':<16} {info.get('ip', '?'):<15} {'up' if alive else 'dead'}")


def main(argv: list[str]) -> None:
    cmd = argv[1] if len(argv) > 1 else "status"
    if cmd == "start":
        cmd_start()
    elif cmd == "stop":
        cmd_stop()
    elif cmd == "status":
        cmd_status()
    elif cmd == "subnet":
        if SUBNET_FILE.exists() and reconciler_pid() is not None:
            print(SUBNET_FILE.read_text().strip())
        else:
            print(ensure_subnet(ec2()))
    elif cmd == "info":
        print(f"index={INDEX}\nbridge={BRIDGE}\ngateway={BRIDGE_ADDR}\ncidr={SUBNET_CIDR}\nstate={STATE}")
        print(f"proxy=http://{BRIDGE_ADDR}:{images.PROXY_PORT}\nproxy_log={images.PROXY_LOG}\nimage_cache={images.IMAGE_CACHE}")
    elif cmd == "images":
        # ami id, alias, arch, kind (stock: boots here; record: validation only; machine: fast host), name
        for ami, v in sorted(load_images().items(), key=lambda kv: (kv[1]["alias"], kv[1]["arch"])):
            print(f"{ami:<22} {v['alias']:<13} {v['arch']:<7} {v['kind']:<8} {v['name']}")
    elif cmd == "layers":
        # Images made from hosts (CreateImage): ami id, kind of the image under it, base image, where the layer is
        for ami, v in sorted(layers.load(CHECKOUT).items()):
            print(f"{ami:<22} {v['kind']:<8} {v['base']:<32} {v['dir']}")
    elif cmd == "build-images":
        # Waits until this fleet's stock images are built (builds them, or waits for the build under way).
        need_root()
        started = time.monotonic()
        images.build_missing(load_images())
        log(f"stock images ready ({time.monotonic() - started:.1f}s)")
    elif cmd == "proxy-stats":
        print(json.dumps(images.proxy_stats()))
    elif cmd == "reconcile":
        reconcile_forever()
    elif cmd == "host-up":  # for debugging: host-up ID IP PUBKEYFILE
        need_root()
        bridge_up()
        hosts_fs_up()
        host_up(argv[2], argv[3], Path(argv[4]).read_text().strip(), "")
    elif cmd == "host-down":
        need_root()
        host_down(argv[2])
    else:
        sys.exit(f"usage: fleet start|stop|status|subnet|info|images|layers|build-images|proxy-stats (got {cmd!r})")


if __name__ == "__main__":
    main(sys.argv)
