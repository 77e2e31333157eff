"""Monte Carlo pi with vectorised numpy: the peer bench/pi.ts compares our kernel against.

Usage: pi_numpy.py SAMPLES [SEED]   prints one JSON line.
Draws x, y ~ U[0, 1) as float64 with numpy's default generator (PCG64) in batches of 10^7 and
counts x² + y² < 1, the way a numpy user would write it. One warm-up batch is not timed.
"""

import json
import sys
import time

import numpy as np

BATCH = 10_000_000


def count_inside(rng: np.random.Generator, n: int) -> int:
    inside = 0
    done = 0
    while done < n:
        m = min(BATCH, n - done)
        x = rng.random(m)
        y = rng.random(m)
        inside += int(np.count_nonzero(x * x + y * y < 1.0))
        done += m
    return inside


def main() -> None:
    samples = int(float(sys.argv[1])) if len(sys.argv) > 1 else 100_000_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20260101
    rng = np.random.default_rng(seed)
    count_inside(rng, min(BATCH, samples))  # warm-up: page in the buffers
    start, cpu_start = time.perf_counter(), time.process_time()
    inside = count_inside(rng, samples)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    print(
        json.dumps(
            {
                "samples": samples,
                "inside": inside,
                "pi": 4 * inside / samples,
                "seconds": seconds,
                "samplesPerSecond": samples / seconds,
                "cpuSeconds": cpu_seconds,
                "cpuSamplesPerSecond": samples / cpu_seconds,
                "numpy": np.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
