"""The ipyparallel peer of bench/engines.ts: no-op tasks through a LoadBalancedView, one cluster on loopback.

Prints one JSON line: {"tasksPerSecond", "p50Ms", "p99Ms", "engines", "tasks", "version"}.
Throughput: `lview.apply_async(noop)` for N tasks submitted back to back, then waiting for all.
Latency: `lview.apply_sync(noop)` one at a time. Same workload and same shape as the TypeScript side.
"""
import argparse
import json
import os
import sys
import time
import statistics

import ipyparallel as ipp


def noop():
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", type=int, default=1)
    ap.add_argument("--tasks", type=int, default=5000)
    ap.add_argument("--latency", type=int, default=1000)
    args = ap.parse_args()

    cluster = ipp.Cluster(n=args.engines, controller_ip="127.0.0.1", engine_timeout=60, log_level=40)
    rc = cluster.start_and_connect_sync(activate=False)
    try:
        rc.wait_for_engines(args.engines, timeout=120)
        lview = rc.load_balanced_view()
        # warm up
        for _ in range(200):
            lview.apply_sync(noop)
        lview.map_sync(lambda x: x, range(200))

        t0 = time.perf_counter()
        ars = [lview.apply_async(noop) for _ in range(args.tasks)]
        for ar in ars:
            ar.get()
        elapsed = time.perf_counter() - t0
        tps = args.tasks / elapsed

        lat = []
        for _ in range(args.latency):
            t = time.perf_counter()
            lview.apply_sync(noop)
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(json.dumps({
            "tasksPerSecond": round(tps, 1),
            "p50Ms": round(p50, 3),
            "p99Ms": round(p99, 3),
            "engines": args.engines,
            "tasks": args.tasks,
            "version": ipp.__version__,
        }), flush=True)
    finally:
        try:
            rc.close()
        finally:
            cluster.stop_cluster_sync()


if __name__ == "__main__":
    main()
