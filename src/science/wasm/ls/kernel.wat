;; Lomb-Scargle trigonometric-sum kernels: WebAssembly SIMD (f64x2, two points per vector).
;;
;; Same sums as src/science/lombscargle-kernels.ts (the TypeScript twins; tests check they agree): for each
;; frequency, with θ = 2π·f·t_i,  out = [Σw cosθ, Σw sinθ, Σwy cosθ, Σwy sinθ, Σw cos²θ, Σw cosθ sinθ],
;; each stored as an f64x2 of per-lane partial sums (12 f64 per frequency; the caller adds the lane pairs).
;; All arrays are f64, point arrays padded to an even length with w = wy = t = 0 (padding adds nothing).
;; The caller (kernel.ts) owns the memory layout and passes byte offsets. Multiply-adds use relaxed SIMD's
;; f64x2.relaxed_madd / relaxed_nmadd (one fused instruction on FMA hardware, mul + add elsewhere: both are
;; accurate to an ulp); kernel.ts enables relaxed SIMD in Node 20, where it is behind a flag.
;;
;;   anchor  exact cos/sin of 2π·f·t per point: Dekker two-product f·t = p + e (t pre-split into th + tl),
;;           reduction in cycles (p − nearest(p) is exact), octant reduction, minimax polynomials
;;           (fdlibm's kernel coefficients), quadrant fix-up with integer lanes.
;;   regular regular grid: per point Z ← Z·A (angle addition), two frequencies per sweep.
;;   smooth  smooth list: difference tower Z ← Z·A, A ← A·B, B ← B·G(γ), γ = g_k·t with g_k = 2π·Δ³f_k,
;;           G = (1 − γ²/2, γ − γ³/6) (|γ| ≤ 3e-4), two frequencies per sweep.
;;   direct  any list: an exact cos/sin per pair (as anchor).
;;   power   the standard-normalised (generalised or classic) power from the sums.
(module
  (memory (export "memory") 1)

  ;; Stores the six sums of one frequency at $po as six f64x2 (lane pairs; the caller adds the lanes).
  (func $store6 (param $po i32) (param $c v128) (param $s v128) (param $yc v128) (param $ys v128)
                (param $cc v128) (param $cs v128)
    (v128.store offset=0 (local.get $po) (local.get $c))
    (v128.store offset=16 (local.get $po) (local.get $s))
    (v128.store offset=32 (local.get $po) (local.get $yc))
    (v128.store offset=48 (local.get $po) (local.get $ys))
    (v128.store offset=64 (local.get $po) (local.get $cc))
    (v128.store offset=80 (local.get $po) (local.get $cs)))

  ;; cos and sin of 2π·(p + e) where p + e is a phase in cycles (e tiny).
  (func $cossin (param $p v128) (param $e v128) (result v128 v128)
    (local $r v128) (local $m v128) (local $a v128) (local $z v128) (local $s v128) (local $c v128)
    (local $q v128) (local $sw v128)
    (local.set $r (f64x2.add (f64x2.sub (local.get $p) (f64x2.nearest (local.get $p))) (local.get $e)))
    (local.set $m (f64x2.nearest (f64x2.mul (local.get $r) (v128.const f64x2 4 4))))
    (local.set $a
      (f64x2.mul
        (f64x2.sub (local.get $r) (f64x2.mul (local.get $m) (v128.const f64x2 0.25 0.25)))
        (v128.const f64x2 6.283185307179586 6.283185307179586)))
    (local.set $z (f64x2.mul (local.get $a) (local.get $a)))
    ;; Horner with multiply-adds: s = a + a·z·S(z), c = 1 − z/2 + z²·C(z)
    (local.set $s (f64x2.relaxed_madd (f64x2.mul (local.get $a) (local.get $z)) (f64x2.relaxed_madd (f64x2.relaxed_madd (f64x2.relaxed_madd (f64x2.relaxed_madd (f64x2.relaxed_madd (v128.const f64x2 1.58969099521155010221e-10 1.58969099521155010221e-10) (local.get $z) (v128.const f64x2 -2.50507602534068634195e-8 -2.50507602534068634195e-8)) (local.get $z) (v128.const f64x2 2.75573137070700676789e-6 2.75573137070700676789e-6)) (local.get $z) (v128.const f64x2 -1.98412698298579493134e-4 -1.98412698298579493134e-4)) (local.get $z) (v128.const f64x2 8.33333333332248946124e-3 8.33333333332248946124e-3)) (local.get $z) (v128.const f64x2 -1.66666666666666324348e-1 -1.66666666666666324348e-1)) (local.get $a)))
    (local.set $c
      (f64x2.relaxed_madd (f64x2.mul (local.get $z) (local.get $z)) (f64x2.relaxed_madd (f64x2.relaxed_madd (f64x2.relaxed_madd (f64x2.relaxed_madd (f64x2.relaxed_madd (v128.const f64x2 -1.13596475577881948265e-11 -1.13596475577881948265e-11) (local.get $z) (v128.const f64x2 2.08757232129817482790e-9 2.08757232129817482790e-9)) (local.get $z) (v128.const f64x2 -2.75573143513906633035e-7 -2.75573143513906633035e-7)) (local.get $z) (v128.const f64x2 2.48015872894767294178e-5 2.48015872894767294178e-5)) (local.get $z) (v128.const f64x2 -1.38888888888741095749e-3 -1.38888888888741095749e-3)) (local.get $z) (v128.const f64x2 4.16666666666666019037e-2 4.16666666666666019037e-2))
        (f64x2.relaxed_nmadd (local.get $z) (v128.const f64x2 0.5 0.5) (v128.const f64x2 1 1))))
    ;; quadrant q = m mod 4 (two's complement bits): swap when q is odd; cos < 0 for q ∈ {1, 2}
    ;; (bit 1 of q + 1), sin < 0 for q ∈ {2, 3} (bit 1 of q).
    (local.set $q (i64x2.extend_low_i32x4_s (i32x4.trunc_sat_f64x2_s_zero (local.get $m))))
    (local.set $sw (i64x2.shr_s (i64x2.shl (local.get $q) (i32.const 63)) (i32.const 63)))
    (v128.xor
      (v128.bitselect (local.get $s) (local.get $c) (local.get $sw))
      (v128.and (i64x2.shl (i64x2.add (local.get $q) (v128.const i64x2 1 1)) (i32.const 62))
                (v128.const i64x2 0x8000000000000000 0x8000000000000000)))
    (v128.xor
      (v128.bitselect (local.get $c) (local.get $s) (local.get $sw))
      (v128.and (i64x2.shl (local.get $q) (i32.const 62))
                (v128.const i64x2 0x8000000000000000 0x8000000000000000))))

  ;; Exact product f·t as p + e for the points at byte offset $j (t = th + tl split by the caller).
  ;; Returns p, e.
  (func $prod (param $fv v128) (param $fh v128) (param $fl v128) (param $t v128) (param $th v128)
              (param $tl v128) (result v128 v128)
    (local $p v128)
    (local.set $p (f64x2.mul (local.get $fv) (local.get $t)))
    (local.get $p)
    (f64x2.add
      (f64x2.add
        (f64x2.add
          (f64x2.sub (f64x2.mul (local.get $fh) (local.get $th)) (local.get $p))
          (f64x2.mul (local.get $fh) (local.get $tl)))
        (f64x2.mul (local.get $fl) (local.get $th)))
      (f64x2.mul (local.get $fl) (local.get $tl))))

  ;; cos/sin(2π·f·t_i) for all points (vectors of two) into $por/$poi, advancing both by $stride bytes per vector.
  (func (export "anchor") (param $n i32) (param $f f64) (param $pt i32) (param $pth i32) (param $ptl i32)
                          (param $por i32) (param $poi i32) (param $stride i32)
    (local $x f64) (local $fh f64) (local $fv v128) (local $fhv v128) (local $flv v128)
    (local $j i32) (local $end i32) (local $p v128) (local $e v128) (local $c v128) (local $s v128)
    (local.set $x (f64.mul (local.get $f) (f64.const 134217729)))
    (local.set $fh (f64.sub (local.get $x) (f64.sub (local.get $x) (local.get $f))))
    (local.set $fv (f64x2.splat (local.get $f)))
    (local.set $fhv (f64x2.splat (local.get $fh)))
    (local.set $flv (f64x2.splat (f64.sub (local.get $f) (local.get $fh))))
    (local.set $end (i32.shl (local.get $n) (i32.const 3)))
    (block $done
      (loop $points
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
        (call $prod (local.get $fv) (local.get $fhv) (local.get $flv)
          (v128.load (i32.add (local.get $pt) (local.get $j)))
          (v128.load (i32.add (local.get $pth) (local.get $j)))
          (v128.load (i32.add (local.get $ptl) (local.get $j))))
        (local.set $e)
        (local.set $p)
        (call $cossin (local.get $p) (local.get $e))
        (local.set $s)
        (local.set $c)
        (v128.store (local.get $por) (local.get $c))
        (v128.store (local.get $poi) (local.get $s))
        (local.set $por (i32.add (local.get $por) (local.get $stride)))
        (local.set $poi (i32.add (local.get $poi) (local.get $stride)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $points))))

  ;; The smooth kernel's three anchors in one pass: Z = e^{2πi·f·t}, A = e^{2πi·d1·t}, B = e^{2πi·d2·t} into the
  ;; records at $prec ($stride bytes each; Z at 0, A at 32, B at 64), products exact as in anchor.
  (func (export "anchor3") (param $n i32) (param $f f64) (param $d1 f64) (param $d2 f64) (param $pt i32)
                           (param $pth i32) (param $ptl i32) (param $prec i32) (param $stride i32)
    (local $x f64) (local $h f64) (local $j i32) (local $end i32) (local $r i32)
    (local $fv v128) (local $fh v128) (local $fl v128) (local $d1v v128) (local $d1h v128) (local $d1l v128)
    (local $d2v v128) (local $d2h v128) (local $d2l v128)
    (local $t v128) (local $th v128) (local $tl v128) (local $p v128) (local $c v128) (local $s v128)
    (local.set $x (f64.mul (local.get $f) (f64.const 134217729)))
    (local.set $h (f64.sub (local.get $x) (f64.sub (local.get $x) (local.get $f))))
    (local.set $fv (f64x2.splat (local.get $f)))
    (local.set $fh (f64x2.splat (local.get $h)))
    (local.set $fl (f64x2.splat (f64.sub (local.get $f) (local.get $h))))
    (local.set $x (f64.mul (local.get $d1) (f64.const 134217729)))
    (local.set $h (f64.sub (local.get $x) (f64.sub (local.get $x) (local.get $d1))))
    (local.set $d1v (f64x2.splat (local.get $d1)))
    (local.set $d1h (f64x2.splat (local.get $h)))
    (local.set $d1l (f64x2.splat (f64.sub (local.get $d1) (local.get $h))))
    (local.set $x (f64.mul (local.get $d2) (f64.const 134217729)))
    (local.set $h (f64.sub (local.get $x) (f64.sub (local.get $x) (local.get $d2))))
    (local.set $d2v (f64x2.splat (local.get $d2)))
    (local.set $d2h (f64x2.splat (local.get $h)))
    (local.set $d2l (f64x2.splat (f64.sub (local.get $d2) (local.get $h))))
    (local.set $end (i32.shl (local.get $n) (i32.const 3)))
    (local.set $r (local.get $prec))
    (block $done
      (loop $points
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
        (local.set $t (v128.load (i32.add (local.get $pt) (local.get $j))))
        (local.set $th (v128.load (i32.add (local.get $pth) (local.get $j))))
        (local.set $tl (v128.load (i32.add (local.get $ptl) (local.get $j))))
        (local.set $p (f64x2.mul (local.get $fv) (local.get $t)))
        (call $cossin (local.get $p)
          (f64x2.add
            (f64x2.add
              (f64x2.add
                (f64x2.sub (f64x2.mul (local.get $fh) (local.get $th)) (local.get $p))
                (f64x2.mul (local.get $fh) (local.get $tl)))
              (f64x2.mul (local.get $fl) (local.get $th)))
            (f64x2.mul (local.get $fl) (local.get $tl))))
        (local.set $s)
        (local.set $c)
        (v128.store offset=0 (local.get $r) (local.get $c))
        (v128.store offset=16 (local.get $r) (local.get $s))
        (local.set $p (f64x2.mul (local.get $d1v) (local.get $t)))
        (call $cossin (local.get $p)
          (f64x2.add
            (f64x2.add
              (f64x2.add
                (f64x2.sub (f64x2.mul (local.get $d1h) (local.get $th)) (local.get $p))
                (f64x2.mul (local.get $d1h) (local.get $tl)))
              (f64x2.mul (local.get $d1l) (local.get $th)))
            (f64x2.mul (local.get $d1l) (local.get $tl))))
        (local.set $s)
        (local.set $c)
        (v128.store offset=32 (local.get $r) (local.get $c))
        (v128.store offset=48 (local.get $r) (local.get $s))
        (local.set $p (f64x2.mul (local.get $d2v) (local.get $t)))
        (call $cossin (local.get $p)
          (f64x2.add
            (f64x2.add
              (f64x2.add
                (f64x2.sub (f64x2.mul (local.get $d2h) (local.get $th)) (local.get $p))
                (f64x2.mul (local.get $d2h) (local.get $tl)))
              (f64x2.mul (local.get $d2l) (local.get $th)))
            (f64x2.mul (local.get $d2l) (local.get $tl))))
        (local.set $s)
        (local.set $c)
        (v128.store offset=64 (local.get $r) (local.get $c))
        (v128.store offset=80 (local.get $r) (local.get $s))
        (local.set $r (i32.add (local.get $r) (local.get $stride)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $points))))

  ;; cos/sin(2π·x_i) of phases in cycles at $pph (one f64 per point) into $por/$poi, $stride bytes per vector.
  (func (export "anchorPhase") (param $n i32) (param $pph i32) (param $por i32) (param $poi i32) (param $stride i32)
    (local $j i32) (local $end i32) (local $c v128) (local $s v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 3)))
    (block $done
      (loop $points
        (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
        (call $cossin (v128.load (i32.add (local.get $pph) (local.get $j))) (v128.const i64x2 0 0))
        (local.set $s)
        (local.set $c)
        (v128.store (local.get $por) (local.get $c))
        (v128.store (local.get $poi) (local.get $s))
        (local.set $por (i32.add (local.get $por) (local.get $stride)))
        (local.set $poi (i32.add (local.get $poi) (local.get $stride)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $points))))

  ;; Regular grid: $count frequencies (rounded up to even; the caller leaves room). Per vector of two points a
  ;; 96-byte record at $prec: Z (re, im), the step A (re, im), w, wy. Leaves Z advanced.
  (func (export "regular") (param $n i32) (param $count i32) (param $prec i32) (param $po i32)
    (local $k i32) (local $r i32) (local $end i32)
    (local $x v128) (local $y v128) (local $p v128) (local $q v128) (local $w v128) (local $v v128)
    (local $wc v128) (local $tmp v128)
    (local $c0 v128) (local $s0 v128) (local $yc0 v128) (local $ys0 v128) (local $cc0 v128) (local $cs0 v128)
    (local $c1 v128) (local $s1 v128) (local $yc1 v128) (local $ys1 v128) (local $cc1 v128) (local $cs1 v128)
    (local.set $end (i32.add (local.get $prec) (i32.mul (i32.shr_u (local.get $n) (i32.const 1)) (i32.const 96))))
    (block $freqDone
      (loop $freqs
        (br_if $freqDone (i32.ge_s (local.get $k) (local.get $count)))
        (local.set $c0 (v128.const i64x2 0 0)) (local.set $s0 (v128.const i64x2 0 0))
        (local.set $yc0 (v128.const i64x2 0 0)) (local.set $ys0 (v128.const i64x2 0 0))
        (local.set $cc0 (v128.const i64x2 0 0)) (local.set $cs0 (v128.const i64x2 0 0))
        (local.set $c1 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0))
        (local.set $yc1 (v128.const i64x2 0 0)) (local.set $ys1 (v128.const i64x2 0 0))
        (local.set $cc1 (v128.const i64x2 0 0)) (local.set $cs1 (v128.const i64x2 0 0))
        (local.set $r (local.get $prec))
        (block $done
          (loop $points
            (br_if $done (i32.ge_u (local.get $r) (local.get $end)))
            (local.set $x (v128.load offset=0 (local.get $r)))
            (local.set $y (v128.load offset=16 (local.get $r)))
            (local.set $p (v128.load offset=32 (local.get $r)))
            (local.set $q (v128.load offset=48 (local.get $r)))
            (local.set $w (v128.load offset=64 (local.get $r)))
            (local.set $v (v128.load offset=80 (local.get $r)))
            (local.set $wc (f64x2.mul (local.get $w) (local.get $x)))
            (local.set $c0 (f64x2.add (local.get $c0) (local.get $wc)))
            (local.set $s0 (f64x2.relaxed_madd (local.get $w) (local.get $y) (local.get $s0)))
            (local.set $yc0 (f64x2.relaxed_madd (local.get $v) (local.get $x) (local.get $yc0)))
            (local.set $ys0 (f64x2.relaxed_madd (local.get $v) (local.get $y) (local.get $ys0)))
            (local.set $cc0 (f64x2.relaxed_madd (local.get $wc) (local.get $x) (local.get $cc0)))
            (local.set $cs0 (f64x2.relaxed_madd (local.get $wc) (local.get $y) (local.get $cs0)))
            (local.set $tmp (f64x2.relaxed_nmadd (local.get $y) (local.get $q) (f64x2.mul (local.get $x) (local.get $p))))
            (local.set $y (f64x2.relaxed_madd (local.get $x) (local.get $q) (f64x2.mul (local.get $y) (local.get $p))))
            (local.set $x (local.get $tmp))
            (local.set $wc (f64x2.mul (local.get $w) (local.get $x)))
            (local.set $c1 (f64x2.add (local.get $c1) (local.get $wc)))
            (local.set $s1 (f64x2.relaxed_madd (local.get $w) (local.get $y) (local.get $s1)))
            (local.set $yc1 (f64x2.relaxed_madd (local.get $v) (local.get $x) (local.get $yc1)))
            (local.set $ys1 (f64x2.relaxed_madd (local.get $v) (local.get $y) (local.get $ys1)))
            (local.set $cc1 (f64x2.relaxed_madd (local.get $wc) (local.get $x) (local.get $cc1)))
            (local.set $cs1 (f64x2.relaxed_madd (local.get $wc) (local.get $y) (local.get $cs1)))
            (v128.store offset=0 (local.get $r)
              (f64x2.relaxed_nmadd (local.get $y) (local.get $q) (f64x2.mul (local.get $x) (local.get $p))))
            (v128.store offset=16 (local.get $r)
              (f64x2.relaxed_madd (local.get $x) (local.get $q) (f64x2.mul (local.get $y) (local.get $p))))
            (local.set $r (i32.add (local.get $r) (i32.const 96)))
            (br $points)))
        (call $store6 (local.get $po) (local.get $c0) (local.get $s0) (local.get $yc0) (local.get $ys0)
          (local.get $cc0) (local.get $cs0))
        (call $store6 (i32.add (local.get $po) (i32.const 96)) (local.get $c1) (local.get $s1) (local.get $yc1)
          (local.get $ys1) (local.get $cc1) (local.get $cs1))
        (local.set $po (i32.add (local.get $po) (i32.const 192)))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br $freqs))))

  ;; Smooth list: $count frequencies (rounded up to even) from the states Z, A, B; $pg holds per frequency
  ;; g = 2π·Δ³f_k (one f64 per frequency, padded). Per vector of two points a 144-byte record at $prec:
  ;; Z, A, B (re, im each), t, w, wy. With γ = g·t (|γ| ≤ 3e-4, see
  ;; SMOOTH_MAX_GAMMA): G = (1 − γ²/2, γ − γ³/6). Leaves the states advanced.
  (func (export "smooth") (param $n i32) (param $count i32) (param $prec i32) (param $pg i32) (param $po i32)
    (local $k i32) (local $r i32) (local $end i32)
    (local $x v128) (local $y v128) (local $ar v128) (local $ai v128) (local $br v128) (local $bi v128)
    (local $t v128) (local $w v128) (local $v v128) (local $wc v128)
    (local $tmp v128) (local $gc v128) (local $gs v128)
    (local $c0 v128) (local $s0 v128) (local $yc0 v128) (local $ys0 v128) (local $cc0 v128) (local $cs0 v128)
    (local $c1 v128) (local $s1 v128) (local $yc1 v128) (local $ys1 v128) (local $cc1 v128) (local $cs1 v128)
    (local.set $end (i32.add (local.get $prec) (i32.mul (i32.shr_u (local.get $n) (i32.const 1)) (i32.const 144))))
    (block $freqDone
      (loop $freqs
        (br_if $freqDone (i32.ge_s (local.get $k) (local.get $count)))
        (local.set $c0 (v128.const i64x2 0 0)) (local.set $s0 (v128.const i64x2 0 0))
        (local.set $yc0 (v128.const i64x2 0 0)) (local.set $ys0 (v128.const i64x2 0 0))
        (local.set $cc0 (v128.const i64x2 0 0)) (local.set $cs0 (v128.const i64x2 0 0))
        (local.set $c1 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0))
        (local.set $yc1 (v128.const i64x2 0 0)) (local.set $ys1 (v128.const i64x2 0 0))
        (local.set $cc1 (v128.const i64x2 0 0)) (local.set $cs1 (v128.const i64x2 0 0))
        (local.set $r (local.get $prec))
        (block $done
          (loop $points
            (br_if $done (i32.ge_u (local.get $r) (local.get $end)))
            (local.set $x (v128.load offset=0 (local.get $r)))
            (local.set $y (v128.load offset=16 (local.get $r)))
            (local.set $ar (v128.load offset=32 (local.get $r)))
            (local.set $ai (v128.load offset=48 (local.get $r)))
            (local.set $br (v128.load offset=64 (local.get $r)))
            (local.set $bi (v128.load offset=80 (local.get $r)))
            (local.set $t (v128.load offset=96 (local.get $r)))
                    (local.set $w (v128.load offset=112 (local.get $r)))
            (local.set $v (v128.load offset=128 (local.get $r)))
            ;; frequency k: accumulate Z
            (local.set $wc (f64x2.mul (local.get $w) (local.get $x)))
            (local.set $c0 (f64x2.add (local.get $c0) (local.get $wc)))
            (local.set $s0 (f64x2.relaxed_madd (local.get $w) (local.get $y) (local.get $s0)))
            (local.set $yc0 (f64x2.relaxed_madd (local.get $v) (local.get $x) (local.get $yc0)))
            (local.set $ys0 (f64x2.relaxed_madd (local.get $v) (local.get $y) (local.get $ys0)))
            (local.set $cc0 (f64x2.relaxed_madd (local.get $wc) (local.get $x) (local.get $cc0)))
            (local.set $cs0 (f64x2.relaxed_madd (local.get $wc) (local.get $y) (local.get $cs0)))
            ;; Z ← Z·A, A ← A·B, B ← B·G
            (local.set $tmp (f64x2.relaxed_nmadd (local.get $y) (local.get $ai) (f64x2.mul (local.get $x) (local.get $ar))))
            (local.set $y (f64x2.relaxed_madd (local.get $x) (local.get $ai) (f64x2.mul (local.get $y) (local.get $ar))))
            (local.set $x (local.get $tmp))
            (local.set $tmp (f64x2.relaxed_nmadd (local.get $ai) (local.get $bi) (f64x2.mul (local.get $ar) (local.get $br))))
            (local.set $ai (f64x2.relaxed_madd (local.get $ar) (local.get $bi) (f64x2.mul (local.get $ai) (local.get $br))))
            (local.set $ar (local.get $tmp))
            (local.set $gs (f64x2.mul (v128.load64_splat offset=0 (local.get $pg)) (local.get $t)))
            (local.set $tmp (f64x2.mul (local.get $gs) (local.get $gs)))
            (local.set $gc (f64x2.relaxed_nmadd (local.get $tmp) (v128.const f64x2 0.5 0.5) (v128.const f64x2 1 1)))
            (local.set $gs (f64x2.relaxed_nmadd (f64x2.mul (local.get $gs) (local.get $tmp)) (v128.const f64x2 0.16666666666666666 0.16666666666666666) (local.get $gs)))
            (local.set $tmp (f64x2.relaxed_nmadd (local.get $bi) (local.get $gs) (f64x2.mul (local.get $br) (local.get $gc))))
            (local.set $bi (f64x2.relaxed_madd (local.get $br) (local.get $gs) (f64x2.mul (local.get $bi) (local.get $gc))))
            (local.set $br (local.get $tmp))
            ;; frequency k + 1
            (local.set $wc (f64x2.mul (local.get $w) (local.get $x)))
            (local.set $c1 (f64x2.add (local.get $c1) (local.get $wc)))
            (local.set $s1 (f64x2.relaxed_madd (local.get $w) (local.get $y) (local.get $s1)))
            (local.set $yc1 (f64x2.relaxed_madd (local.get $v) (local.get $x) (local.get $yc1)))
            (local.set $ys1 (f64x2.relaxed_madd (local.get $v) (local.get $y) (local.get $ys1)))
            (local.set $cc1 (f64x2.relaxed_madd (local.get $wc) (local.get $x) (local.get $cc1)))
            (local.set $cs1 (f64x2.relaxed_madd (local.get $wc) (local.get $y) (local.get $cs1)))
            (v128.store offset=0 (local.get $r)
              (f64x2.relaxed_nmadd (local.get $y) (local.get $ai) (f64x2.mul (local.get $x) (local.get $ar))))
            (v128.store offset=16 (local.get $r)
              (f64x2.relaxed_madd (local.get $x) (local.get $ai) (f64x2.mul (local.get $y) (local.get $ar))))
            (v128.store offset=32 (local.get $r)
              (f64x2.relaxed_nmadd (local.get $ai) (local.get $bi) (f64x2.mul (local.get $ar) (local.get $br))))
            (v128.store offset=48 (local.get $r)
              (f64x2.relaxed_madd (local.get $ar) (local.get $bi) (f64x2.mul (local.get $ai) (local.get $br))))
            (local.set $gs (f64x2.mul (v128.load64_splat offset=8 (local.get $pg)) (local.get $t)))
            (local.set $tmp (f64x2.mul (local.get $gs) (local.get $gs)))
            (local.set $gc (f64x2.relaxed_nmadd (local.get $tmp) (v128.const f64x2 0.5 0.5) (v128.const f64x2 1 1)))
            (local.set $gs (f64x2.relaxed_nmadd (f64x2.mul (local.get $gs) (local.get $tmp)) (v128.const f64x2 0.16666666666666666 0.16666666666666666) (local.get $gs)))
            (v128.store offset=64 (local.get $r)
              (f64x2.relaxed_nmadd (local.get $bi) (local.get $gs) (f64x2.mul (local.get $br) (local.get $gc))))
            (v128.store offset=80 (local.get $r)
              (f64x2.relaxed_madd (local.get $br) (local.get $gs) (f64x2.mul (local.get $bi) (local.get $gc))))
            (local.set $r (i32.add (local.get $r) (i32.const 144)))
            (br $points)))
        (call $store6 (local.get $po) (local.get $c0) (local.get $s0) (local.get $yc0) (local.get $ys0)
          (local.get $cc0) (local.get $cs0))
        (call $store6 (i32.add (local.get $po) (i32.const 96)) (local.get $c1) (local.get $s1) (local.get $yc1)
          (local.get $ys1) (local.get $cc1) (local.get $cs1))
        (local.set $po (i32.add (local.get $po) (i32.const 192)))
        (local.set $pg (i32.add (local.get $pg) (i32.const 16)))
        (local.set $k (i32.add (local.get $k) (i32.const 2)))
        (br $freqs))))

  ;; Any list: $count frequencies at $pf, an exact cos/sin per pair.
  (func (export "direct") (param $n i32) (param $count i32) (param $pf i32) (param $pt i32) (param $pth i32)
                          (param $ptl i32) (param $pw i32) (param $pwy i32) (param $po i32)
    (local $k i32) (local $j i32) (local $end i32) (local $f f64) (local $x f64) (local $fh f64)
    (local $fv v128) (local $fhv v128) (local $flv v128) (local $p v128) (local $e v128)
    (local $c v128) (local $s v128) (local $w v128) (local $v v128) (local $wc v128)
    (local $c0 v128) (local $s0 v128) (local $yc0 v128) (local $ys0 v128) (local $cc0 v128) (local $cs0 v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 3)))
    (block $freqDone
      (loop $freqs
        (br_if $freqDone (i32.ge_s (local.get $k) (local.get $count)))
        (local.set $f (f64.load (local.get $pf)))
        (local.set $x (f64.mul (local.get $f) (f64.const 134217729)))
        (local.set $fh (f64.sub (local.get $x) (f64.sub (local.get $x) (local.get $f))))
        (local.set $fv (f64x2.splat (local.get $f)))
        (local.set $fhv (f64x2.splat (local.get $fh)))
        (local.set $flv (f64x2.splat (f64.sub (local.get $f) (local.get $fh))))
        (local.set $c0 (v128.const i64x2 0 0)) (local.set $s0 (v128.const i64x2 0 0))
        (local.set $yc0 (v128.const i64x2 0 0)) (local.set $ys0 (v128.const i64x2 0 0))
        (local.set $cc0 (v128.const i64x2 0 0)) (local.set $cs0 (v128.const i64x2 0 0))
        (local.set $j (i32.const 0))
        (block $done
          (loop $points
            (br_if $done (i32.ge_u (local.get $j) (local.get $end)))
            (call $prod (local.get $fv) (local.get $fhv) (local.get $flv)
              (v128.load (i32.add (local.get $pt) (local.get $j)))
              (v128.load (i32.add (local.get $pth) (local.get $j)))
              (v128.load (i32.add (local.get $ptl) (local.get $j))))
            (local.set $e)
            (local.set $p)
            (call $cossin (local.get $p) (local.get $e))
            (local.set $s)
            (local.set $c)
            (local.set $w (v128.load (i32.add (local.get $pw) (local.get $j))))
            (local.set $v (v128.load (i32.add (local.get $pwy) (local.get $j))))
            (local.set $wc (f64x2.mul (local.get $w) (local.get $c)))
            (local.set $c0 (f64x2.add (local.get $c0) (local.get $wc)))
            (local.set $s0 (f64x2.relaxed_madd (local.get $w) (local.get $s) (local.get $s0)))
            (local.set $yc0 (f64x2.relaxed_madd (local.get $v) (local.get $c) (local.get $yc0)))
            (local.set $ys0 (f64x2.relaxed_madd (local.get $v) (local.get $s) (local.get $ys0)))
            (local.set $cc0 (f64x2.relaxed_madd (local.get $wc) (local.get $c) (local.get $cc0)))
            (local.set $cs0 (f64x2.relaxed_madd (local.get $wc) (local.get $s) (local.get $cs0)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $points)))
        (call $store6 (local.get $po) (local.get $c0) (local.get $s0) (local.get $yc0) (local.get $ys0)
          (local.get $cc0) (local.get $cs0))
        (local.set $po (i32.add (local.get $po) (i32.const 96)))
        (local.set $pf (i32.add (local.get $pf) (i32.const 8)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $freqs))))
  ;; Standard-normalised power from the lane-pair sums of $count frequencies at $pin (12 f64 each) into $pout:
  ;; with the weights normalised (Σw = $W), $Y = Σwy, $YY = Σwy², fitMean subtracting the mean terms.
  (func (export "power") (param $count i32) (param $pin i32) (param $pout i32) (param $W f64) (param $Y f64)
                         (param $YY f64) (param $fitMean i32)
    (local $k i32) (local $C f64) (local $S f64) (local $YC f64) (local $YS f64) (local $CC f64) (local $CS f64)
    (local $SS f64) (local $D f64) (local $p f64)
    (block $done
      (loop $freqs
        (br_if $done (i32.ge_s (local.get $k) (local.get $count)))
        (local.set $C (f64.add (f64.load offset=0 (local.get $pin)) (f64.load offset=8 (local.get $pin))))
        (local.set $S (f64.add (f64.load offset=16 (local.get $pin)) (f64.load offset=24 (local.get $pin))))
        (local.set $YC (f64.add (f64.load offset=32 (local.get $pin)) (f64.load offset=40 (local.get $pin))))
        (local.set $YS (f64.add (f64.load offset=48 (local.get $pin)) (f64.load offset=56 (local.get $pin))))
        (local.set $CC (f64.add (f64.load offset=64 (local.get $pin)) (f64.load offset=72 (local.get $pin))))
        (local.set $CS (f64.add (f64.load offset=80 (local.get $pin)) (f64.load offset=88 (local.get $pin))))
        (local.set $SS (f64.sub (local.get $W) (local.get $CC)))
        (if (local.get $fitMean)
          (then
            (local.set $YC (f64.sub (local.get $YC) (f64.mul (local.get $Y) (local.get $C))))
            (local.set $YS (f64.sub (local.get $YS) (f64.mul (local.get $Y) (local.get $S))))
            (local.set $CC (f64.sub (local.get $CC) (f64.mul (local.get $C) (local.get $C))))
            (local.set $SS (f64.sub (local.get $SS) (f64.mul (local.get $S) (local.get $S))))
            (local.set $CS (f64.sub (local.get $CS) (f64.mul (local.get $C) (local.get $S))))))
        (local.set $D (f64.sub (f64.mul (local.get $CC) (local.get $SS)) (f64.mul (local.get $CS) (local.get $CS))))
        (local.set $p (f64.const 0))
        (if (i32.and (f64.gt (local.get $D) (f64.const 0)) (f64.gt (local.get $YY) (f64.const 0)))
          (then
            (local.set $p
              (f64.div
                (f64.sub
                  (f64.add
                    (f64.mul (local.get $SS) (f64.mul (local.get $YC) (local.get $YC)))
                    (f64.mul (local.get $CC) (f64.mul (local.get $YS) (local.get $YS))))
                  (f64.mul (f64.mul (f64.const 2) (local.get $CS)) (f64.mul (local.get $YC) (local.get $YS))))
                (f64.mul (local.get $D) (local.get $YY))))))
        (f64.store (local.get $pout) (local.get $p))
        (local.set $pin (i32.add (local.get $pin) (i32.const 96)))
        (local.set $pout (i32.add (local.get $pout) (i32.const 8)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $freqs))))
)
