"""Lomb-Scargle peers for bench/lombscargle.ts, timed in the same run.

Reads one JSON object on stdin: {"t": [...], "y": [...], "dy": [...], "frequencies": [...] (the list grid),
"regular": {"f0": .., "df": .., "n": ..}, "repeat": int}. Prints one JSON line:
  numpyNsPerPair   numpy direct sum, astroML's vectorised generalised periodogram, on the list grid, ns per pair
  numpyMs          the same in ms
  numpyLeanNsPerPair  a leaner numpy direct sum (one sin/cos per pair instead of astroML's two), ns per pair
  astropyExactMs   astropy LombScargle(...).power(list grid, method='cython') in ms
  astropyFastMs    astropy method='fast' (Press & Rybicki, approximate) on the regular grid, in ms
  astropyFastRegularN, pairs  sizes
  numpyPower / astropyExactPower  the powers (for the bench's cross-check), when "return_power" is set
Timings are the best of `repeat` runs.
"""

import json
import sys
import time

import numpy as np
from astropy.timeseries import LombScargle


def astroml_direct(t, y, dy, frequency):
    """astroML's lomb_scargle(t, y, dy, omega, generalized=True) algorithm: vectorised numpy over a
    (point x frequency) array, sin/cos of ω·t for the time shift τ, then sin/cos of ω·(t − τ) for the fit."""
    w = 1.0 / dy / dy
    w /= w.sum()
    omega = 2 * np.pi * np.asarray(frequency).ravel()[np.newaxis, :]
    t, y, w = (a[:, np.newaxis] for a in (t, y, w))
    sin_omega_t = np.sin(omega * t)
    cos_omega_t = np.cos(omega * t)
    S2 = 2 * np.dot(w.T, sin_omega_t * cos_omega_t)
    C2 = 2 * np.dot(w.T, 0.5 - sin_omega_t**2)
    S = np.dot(w.T, sin_omega_t)
    C = np.dot(w.T, cos_omega_t)
    S2 -= 2 * S * C
    C2 -= C * C - S * S
    omega_t_tau = omega * t - 0.5 * np.arctan2(S2, C2)
    sin_omega_t_tau = np.sin(omega_t_tau)
    cos_omega_t_tau = np.cos(omega_t_tau)
    Y = np.dot(w.T, y)
    wy = w * y
    YCtau = np.dot(wy.T, cos_omega_t_tau)
    YStau = np.dot(wy.T, sin_omega_t_tau)
    CCtau = np.dot(w.T, cos_omega_t_tau * cos_omega_t_tau)
    SStau = np.dot(w.T, sin_omega_t_tau * sin_omega_t_tau)
    Ctau = np.dot(w.T, cos_omega_t_tau)
    Stau = np.dot(w.T, sin_omega_t_tau)
    YCtau -= Y * Ctau
    YStau -= Y * Stau
    CCtau -= Ctau * Ctau
    SStau -= Stau * Stau
    YY = np.dot(w.T, y * y) - Y * Y
    return ((YCtau * YCtau / CCtau + YStau * YStau / SStau) / YY).ravel()


def numpy_direct(t, y, dy, frequency):
    """The same periodogram with one sin/cos per pair (the τ-free form): a leaner numpy direct sum."""
    w = 1.0 / dy**2
    w /= w.sum()
    y = y - np.dot(w, y)
    omega = 2 * np.pi * np.asarray(frequency)[:, None]
    wt = omega * t[None, :]
    sin = np.sin(wt)
    cos = np.cos(wt)
    Y = np.dot(w, y)
    C = np.dot(cos, w)
    S = np.dot(sin, w)
    YY = np.dot(w, y * y) - Y * Y
    YC = np.dot(cos, w * y) - Y * C
    YS = np.dot(sin, w * y) - Y * S
    CC = np.dot(cos * cos, w) - C * C
    SS = np.dot(sin * sin, w) - S * S
    CS = np.dot(cos * sin, w) - C * S
    D = CC * SS - CS * CS
    return (SS * YC * YC + CC * YS * YS - 2 * CS * YC * YS) / (YY * D)


def best_of(fn, repeat):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    spec = json.load(sys.stdin)
    t = np.asarray(spec["t"], dtype=float)
    y = np.asarray(spec["y"], dtype=float)
    dy = np.asarray(spec["dy"], dtype=float)
    freq = np.asarray(spec["frequencies"], dtype=float)
    reg = spec["regular"]
    reg_freq = reg["f0"] + reg["df"] * np.arange(reg["n"])
    repeat = int(spec.get("repeat", 5))
    ls = LombScargle(t, y, dy)

    numpy_s, numpy_power = best_of(lambda: astroml_direct(t, y, dy, freq), repeat)
    lean_s, _ = best_of(lambda: numpy_direct(t, y, dy, freq), repeat)
    exact_s, exact_power = best_of(lambda: ls.power(freq, method="cython"), repeat)
    fast_s, _ = best_of(
        lambda: ls.power(reg_freq, method="fast", assume_regular_frequency=True), repeat
    )
    exact_reg_s, _ = best_of(lambda: ls.power(reg_freq, method="cython"), max(1, repeat // 2))
    out = {
        "numpyNsPerPair": numpy_s * 1e9 / (t.size * freq.size),
        "numpyMs": numpy_s * 1e3,
        "numpyLeanNsPerPair": lean_s * 1e9 / (t.size * freq.size),
        "astropyExactMs": exact_s * 1e3,
        "astropyFastMs": fast_s * 1e3,
        "astropyExactRegularMs": exact_reg_s * 1e3,
        "points": int(t.size),
        "listFrequencies": int(freq.size),
        "regularFrequencies": int(reg["n"]),
    }
    if spec.get("return_power"):
        out["numpyPower"] = numpy_power.tolist()
        out["astropyExactPower"] = exact_power.tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
