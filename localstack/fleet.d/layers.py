"""Images made from fleet hosts: CreateImage (`starcluster ebsimage`) snapshots a host's filesystem.

On EC2, CreateImage snapshots the instance's root volume (after a clean reboot unless NoReboot), and
the AMI turns `available` when the snapshot is complete; an instance of that AMI boots what the
original had on its disk. A fleet host's disk is an overlay: the lower dirs are its image (the stock
image's rootfs, or this machine's / for the fast image, under any layers it was itself booted from),
the upper dir on the fleet's tmpfs holds everything the host changed. A snapshot is a copy of that
upper dir (whiteouts and opaque dirs included: `cp -a` keeps device nodes and trusted.* xattrs) as a
new *layer*, cached like the stock images under CACHE/images/layer-<ami id> (upper/, layer.json,
built). A host of the new AMI boots the same image with the layer on top of its lower dirs. The fast
host's /root and /home are private bind mounts, not in the overlay: the layer keeps copies of them.
A layer over the fast image lives on the fleet's tmpfs instead (MACHINE_ROOT): overlayfs refuses a
lower dir inside another lower dir of the same filesystem, and the fast image's lower dir is /.

LocalStack's side (localstack/init/ready.d/starcluster-fleet.py) leaves a request per CreateImage
of a fleet instance in STATE/image-requests/<ami>.json and keeps the image `pending` until the fleet
writes <ami>.done (or <ami>.failed with the reason). A layer belongs to the checkout whose fleet made
it; it goes when its AMI is deregistered (or gone with its LocalStack) and no host still boots from
it, and with `fleet stop`.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from images import IMAGE_CACHE, log

PREFIX = "layer-"
MACHINE_ROOT: Path | None = None  # set by fleet.py: a directory on its own tmpfs


def layer_dir(image_id: str, kind: str) -> Path:
    root = MACHINE_ROOT if kind == "machine" and MACHINE_ROOT else IMAGE_CACHE
    return root / f"{PREFIX}{image_id}"


def _all() -> list[Path]:
    roots = [r for r in (IMAGE_CACHE, MACHINE_ROOT) if r is not None and r.exists()]
    return [d for r in roots for d in r.glob(f"{PREFIX}ami-*")]


def load(checkout: str) -> dict[str, dict]:
    """This checkout's finished layers: {ami id: layer.json} (kind, lower dirs top first, name, dir)."""
    out: dict[str, dict] = {}
    for d in _all():
        try:
            meta = json.loads((d / "layer.json").read_text())
        except (OSError, ValueError):
            continue
        if meta.get("fleet") == checkout and (d / "built").exists():
            out[meta["image"]] = meta
    return out


def referenced() -> set[str]:
    """Every directory some layer (of any checkout) stacks on: image builds that must stay."""
    out: set[str] = set()
    for f in (d / "layer.json" for d in _all()):
        try:
            out.update(json.loads(f.read_text()).get("lower", [])[1:])  # [0] is the layer's own
        except (OSError, ValueError):
            pass
    return out


def snapshot(image_id: str, host_dir: Path | None, host: dict, checkout: str, source: str) -> dict:
    """Copies a host's disk (its overlay's upper dir; for the fast image also /root and /home) into a
    new layer for `image_id`; `host` is the host's host.json (kind, lower dirs, image name). A host
    that does not exist (an instance without one) gives an empty layer over the instance's image."""
    started = time.monotonic()
    final = layer_dir(image_id, host.get("kind", "machine"))
    work = final.parent / f".{PREFIX}{image_id}"
    final.parent.mkdir(parents=True, exist_ok=True)
    for d in (work, final):
        subprocess.run(["rm", "-rf", "--one-file-system", str(d)], check=False)
    work.mkdir(parents=True)
    parts = ["upper", "root", "home"] if host.get("kind") == "machine" else ["upper"]
    for part in parts:
        src = host_dir / part if host_dir else None
        if src is not None and src.is_dir():
            # -a: owners, modes, times, xattrs (overlay's opaque dirs) and device nodes (its whiteouts).
            subprocess.run(["cp", "-a", "--one-file-system", str(src), str(work / part)], check=True)
        else:
            (work / part).mkdir()
    lower = [str(final / "upper"), *host.get("lower", [])]
    meta = {
        "image": image_id,
        "kind": host.get("kind", "machine"),
        "lower": lower,
        "name": f"{image_id} (layer over {host.get('base', 'this machine')})",
        "base": host.get("base", "this machine"),
        "login": host.get("login", "root"),
        "source": source,
        "fleet": checkout,
        "dir": str(final),
    }
    (work / "layer.json").write_text(json.dumps(meta, indent=1) + "\n")
    size = subprocess.run(["du", "-sh", str(work)], text=True, capture_output=True).stdout.split("\t")[0]
    (work / "built").write_text(json.dumps({"date": time.strftime("%Y%m%d"), "seconds": round(time.monotonic() - started, 1)}))
    work.rename(final)
    log(f"image {image_id}: layer of {source} ({size or '?'}) over {meta['base']} in {time.monotonic() - started:.1f}s")
    return meta


def prune_orphans() -> None:
    """Removes layers whose checkout is gone (its fleet can no longer drop them), like fleet slots."""
    for d in _all():
        try:
            owner = json.loads((d / "layer.json").read_text()).get("fleet", "")
        except (OSError, ValueError):
            continue
        if owner and not Path(owner).exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(d)], check=False)
            log(f"{d.name}: its checkout {owner} is gone: removed")


def drop(image_id: str, why: str) -> None:
    for kind in ("stock", "machine"):
        d = layer_dir(image_id, kind)
        if d.exists():
            subprocess.run(["rm", "-rf", "--one-file-system", str(d)], check=False)
            log(f"image {image_id}: layer removed ({why})")
