"""The ipyparallel peer of bench/dataplane.ts: push, pull, scatter and gather of a float64 numpy array.

One local cluster on loopback with N engines (default 2); with --curve, CurveZMQ on every socket
(IPP_ENABLE_CURVE=1: the same security as ours), else ipyparallel's default (HMAC-signed, not encrypted).
For each size in bytes: push({'a': arr}) to every engine, pull('a') from every engine, scatter('b', arr),
gather('b'); each `--reps` times (best kept, as on the TypeScript side), checked by value.
MB/s counts bytes moved: push/pull size × engines, scatter/gather size.

Prints one JSON line: {"version", "curve", "engines", "results": {"<bytes>": {"push", "pull", "scatter",
"gather"} | {"error"}}}.
"""
import argparse
import json
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", type=int, default=2)
    ap.add_argument("--sizes", default=str(8 << 20))
    ap.add_argument("--reps", default="3")
    ap.add_argument("--curve", action="store_true")
    args = ap.parse_args()
    if args.curve:
        os.environ["IPP_ENABLE_CURVE"] = "1"

    import numpy as np
    import ipyparallel as ipp

    sizes = [int(s) for s in args.sizes.split(",")]
    reps = [int(r) for r in args.reps.split(",")]
    cluster = ipp.Cluster(n=args.engines, controller_ip="127.0.0.1", engine_timeout=120, log_level=40)
    rc = cluster.start_and_connect_sync(activate=False)
    out = {}
    try:
        rc.wait_for_engines(args.engines, timeout=180)
        dv = rc[:]
        dv.block = True
        # warm up
        dv.push({"w": np.arange(1024, dtype=np.float64)})
        dv.pull("w")
        for i, size in enumerate(sizes):
            n = size // 8
            try:
                arr = np.arange(n, dtype=np.float64)
                best = {"push": 0.0, "pull": 0.0, "scatter": 0.0, "gather": 0.0}
                for _ in range(reps[min(i, len(reps) - 1)]):
                    t = time.perf_counter()
                    dv.push({"a": arr})
                    best["push"] = max(best["push"], size * args.engines / 1e6 / (time.perf_counter() - t))
                    t = time.perf_counter()
                    parts = dv.pull("a")
                    best["pull"] = max(best["pull"], size * args.engines / 1e6 / (time.perf_counter() - t))
                    assert all(p.shape == arr.shape and p[-1] == arr[-1] for p in parts)
                    del parts
                    t = time.perf_counter()
                    dv.scatter("b", arr)
                    best["scatter"] = max(best["scatter"], size / 1e6 / (time.perf_counter() - t))
                    t = time.perf_counter()
                    back = dv.gather("b")
                    best["gather"] = max(best["gather"], size / 1e6 / (time.perf_counter() - t))
                    assert back.shape == arr.shape and back[-1] == arr[-1]
                    del back
                dv.execute("a = None; b = None")
                rc.purge_everything()
                out[str(size)] = {k: round(v, 1) for k, v in best.items()}
            except Exception as error:  # a size that fails is reported, the others still run
                out[str(size)] = {"error": f"{type(error).__name__}: {error}"[:300]}
            print(f"ipyparallel {size}: {out[str(size)]}", file=sys.stderr, flush=True)
            arr = None
        print(json.dumps({"version": ipp.__version__, "curve": args.curve, "engines": args.engines, "results": out}),
              flush=True)
    finally:
        try:
            rc.close()
        finally:
            cluster.stop_cluster_sync()


if __name__ == "__main__":
    main()
