;; Monte Carlo pi kernel: WebAssembly SIMD, exact integer arithmetic.
;;
;; The sample sequence this computes is defined in src/science/pi.ts (`countInsideTs` is its
;; plain-TypeScript twin; tests check the two agree exactly). In short: four xoshiro256++ lanes
;; (two per i64x2 generator, A = lanes 0,1 and B = lanes 2,3) each give one 64-bit word per step;
;; each 32-bit half of a word is one sample whose 16-bit quarters, shifted right by one, are the
;; 15-bit cell coordinates x, y of a 2^15 × 2^15 grid over the unit square. With s = x² + y²:
;;   s ≥ 2^30                    the whole cell is outside the circle;
;;   s + 2(x + y) + 2 ≤ 2^30     the whole cell is inside (its far corner is);
;;   otherwise                   the cell straddles the arc (about 6·10⁻⁵ of samples): 15 more bits
;;                               per coordinate come from a fifth xoshiro256++ lane (F), and the
;;                               point X = 2(x·2^15 + a) + 1, Y = 2(y·2^15 + b) + 1 is inside iff
;;                               X² + Y² < 2^62 (odd X, Y: never equal, so no ties).
;; So every sample is the centre of a cell of a 2^30 × 2^30 grid, classified exactly; the vector
;; loop does the common case with one i16x8 shift and one i32x4.dot_i16x8_s per four samples.
;;
;; Memory layout (bytes):
;;   0..63     generator A: s0, s1, s2, s3, each a v128 of (lane 0 word, lane 1 word)
;;   64..127   generator B: the same for lanes 2, 3
;;   128..159  refinement lane F: s0..s3 as i64
;;   160..191  scratch: s of samples 0..3 (A), 4..7 (B), i32 each
;;   192..223  scratch: the (x, y) i16 pairs of samples 0..7
(module
  (memory (export "memory") 1)

  ;; One step of the scalar xoshiro256++ lane F.
  (func $nextF (result i64)
    (local $s0 i64) (local $s1 i64) (local $s2 i64) (local $s3 i64) (local $r i64) (local $t i64)
    (local.set $s0 (i64.load offset=128 (i32.const 0)))
    (local.set $s1 (i64.load offset=136 (i32.const 0)))
    (local.set $s2 (i64.load offset=144 (i32.const 0)))
    (local.set $s3 (i64.load offset=152 (i32.const 0)))
    (local.set $r
      (i64.add (i64.rotl (i64.add (local.get $s0) (local.get $s3)) (i64.const 23)) (local.get $s0)))
    (local.set $t (i64.shl (local.get $s1) (i64.const 17)))
    (local.set $s2 (i64.xor (local.get $s2) (local.get $s0)))
    (local.set $s3 (i64.xor (local.get $s3) (local.get $s1)))
    (local.set $s1 (i64.xor (local.get $s1) (local.get $s2)))
    (local.set $s0 (i64.xor (local.get $s0) (local.get $s3)))
    (local.set $s2 (i64.xor (local.get $s2) (local.get $t)))
    (local.set $s3 (i64.rotl (local.get $s3) (i64.const 45)))
    (i64.store offset=128 (i32.const 0) (local.get $s0))
    (i64.store offset=136 (i32.const 0) (local.get $s1))
    (i64.store offset=144 (i32.const 0) (local.get $s2))
    (i64.store offset=152 (i32.const 0) (local.get $s3))
    (local.get $r))

  ;; Resolves the eight samples of one step held in scratch, in sample order. Returns how many of
  ;; them the vector loop counted inside (s < 2^30) but are outside after refinement.
  (func $refine (result i32)
    (local $i i32) (local $s i32) (local $q i32) (local $x i64) (local $y i64) (local $r i64)
    (local $out i32)
    (loop $samples
      (local.set $s (i32.load offset=160 (i32.shl (local.get $i) (i32.const 2))))
      (local.set $q (i32.load offset=192 (i32.shl (local.get $i) (i32.const 2))))
      (if (i32.and
            (i32.lt_u (local.get $s) (i32.const 0x40000000))
            (i32.gt_u
              (i32.add
                (local.get $s)
                (i32.add
                  (i32.shl
                    (i32.add (i32.and (local.get $q) (i32.const 0xffff))
                             (i32.shr_u (local.get $q) (i32.const 16)))
                    (i32.const 1))
                  (i32.const 2)))
              (i32.const 0x40000000)))
        (then
          (local.set $r (call $nextF))
          ;; a = bits 17..31 of r, b = bits 49..63: X = x·2^16 | a·2 | 1, Y = y·2^16 | b·2 | 1
          (local.set $x
            (i64.or
              (i64.or
                (i64.shl (i64.extend_i32_u (i32.and (local.get $q) (i32.const 0xffff))) (i64.const 16))
                (i64.and (i64.shr_u (local.get $r) (i64.const 16)) (i64.const 0xfffe)))
              (i64.const 1)))
          (local.set $y
            (i64.or
              (i64.or
                (i64.shl (i64.extend_i32_u (i32.shr_u (local.get $q) (i32.const 16))) (i64.const 16))
                (i64.and (i64.shr_u (local.get $r) (i64.const 48)) (i64.const 0xfffe)))
              (i64.const 1)))
          ;; X, Y < 2^31, so X² + Y² < 2^63 cannot overflow
          (if (i64.ge_u
                (i64.add (i64.mul (local.get $x) (local.get $x)) (i64.mul (local.get $y) (local.get $y)))
                (i64.const 0x4000000000000000))
            (then (local.set $out (i32.add (local.get $out) (i32.const 1)))))))
      (br_if $samples
        (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 8))))
    (local.get $out))

  ;; Runs `steps` steps (8 samples each; steps ≤ 2^30 so no i32 lane of the count overflows) and
  ;; returns how many samples fell inside. Advances the states in memory.
  (func (export "count") (param $steps i32) (result i64)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $ta v128) (local $tb v128) (local $oa v128) (local $ob v128)
    (local $qa v128) (local $qb v128) (local $sa v128) (local $sb v128)
    (local $acc v128) (local $corr i64) (local $ma v128) (local $mb v128) (local $c30 v128) (local $clo v128)
    (if (i32.eqz (local.get $steps)) (then (return (i64.const 0))))
    (local.set $a0 (v128.load offset=0 (i32.const 0)))
    (local.set $a1 (v128.load offset=16 (i32.const 0)))
    (local.set $a2 (v128.load offset=32 (i32.const 0)))
    (local.set $a3 (v128.load offset=48 (i32.const 0)))
    (local.set $b0 (v128.load offset=64 (i32.const 0)))
    (local.set $b1 (v128.load offset=80 (i32.const 0)))
    (local.set $b2 (v128.load offset=96 (i32.const 0)))
    (local.set $b3 (v128.load offset=112 (i32.const 0)))
    ;; constants held in locals: V8 does not hoist v128.const out of loops
    (local.set $c30 (v128.const i32x4 0x40000000 0x40000000 0x40000000 0x40000000))
    (local.set $clo (v128.const i32x4 0x3ffe0002 0x3ffe0002 0x3ffe0002 0x3ffe0002))
    (loop $step
      ;; outputs: rotl(s0 + s3, 23) + s0, two generators interleaved for instruction-level parallelism
      (local.set $ta (i64x2.add (local.get $a0) (local.get $a3)))
      (local.set $tb (i64x2.add (local.get $b0) (local.get $b3)))
      (local.set $oa
        (i64x2.add
          (v128.or (i64x2.shl (local.get $ta) (i32.const 23)) (i64x2.shr_u (local.get $ta) (i32.const 41)))
          (local.get $a0)))
      (local.set $ob
        (i64x2.add
          (v128.or (i64x2.shl (local.get $tb) (i32.const 23)) (i64x2.shr_u (local.get $tb) (i32.const 41)))
          (local.get $b0)))
      ;; state transition
      (local.set $ta (i64x2.shl (local.get $a1) (i32.const 17)))
      (local.set $tb (i64x2.shl (local.get $b1) (i32.const 17)))
      (local.set $a2 (v128.xor (local.get $a2) (local.get $a0)))
      (local.set $b2 (v128.xor (local.get $b2) (local.get $b0)))
      (local.set $a3 (v128.xor (local.get $a3) (local.get $a1)))
      (local.set $b3 (v128.xor (local.get $b3) (local.get $b1)))
      (local.set $a1 (v128.xor (local.get $a1) (local.get $a2)))
      (local.set $b1 (v128.xor (local.get $b1) (local.get $b2)))
      (local.set $a0 (v128.xor (local.get $a0) (local.get $a3)))
      (local.set $b0 (v128.xor (local.get $b0) (local.get $b3)))
      (local.set $a2 (v128.xor (local.get $a2) (local.get $ta)))
      (local.set $b2 (v128.xor (local.get $b2) (local.get $tb)))
      (local.set $a3
        (v128.or (i64x2.shl (local.get $a3) (i32.const 45)) (i64x2.shr_u (local.get $a3) (i32.const 19))))
      (local.set $b3
        (v128.or (i64x2.shl (local.get $b3) (i32.const 45)) (i64x2.shr_u (local.get $b3) (i32.const 19))))
      ;; cells and their near-corner distances: s = x² + y² per 32-bit half
      (local.set $qa (i16x8.shr_u (local.get $oa) (i32.const 1)))
      (local.set $qb (i16x8.shr_u (local.get $ob) (i32.const 1)))
      (local.set $sa (i32x4.dot_i16x8_s (local.get $qa) (local.get $qa)))
      (local.set $sb (i32x4.dot_i16x8_s (local.get $qb) (local.get $qb)))
      ;; count near corners inside: true lanes are -1, so acc counts down (negated at the end)
      (local.set $ma (i32x4.gt_s (local.get $c30) (local.get $sa)))
      (local.set $mb (i32x4.gt_s (local.get $c30) (local.get $sb)))
      (local.set $acc (i32x4.add (local.get $acc) (i32x4.add (local.get $ma) (local.get $mb))))
      ;; rare: a cell that may straddle the arc, 2^30 − 2^17 + 3 ≤ s < 2^30 (a superset; $refine is exact)
      (if (v128.any_true
            (v128.or
              (v128.and (local.get $ma) (i32x4.gt_s (local.get $sa) (local.get $clo)))
              (v128.and (local.get $mb) (i32x4.gt_s (local.get $sb) (local.get $clo)))))
        (then
          (v128.store offset=160 (i32.const 0) (local.get $sa))
          (v128.store offset=176 (i32.const 0) (local.get $sb))
          (v128.store offset=192 (i32.const 0) (local.get $qa))
          (v128.store offset=208 (i32.const 0) (local.get $qb))
          (local.set $corr (i64.add (local.get $corr) (i64.extend_i32_u (call $refine))))))
      (br_if $step (local.tee $steps (i32.sub (local.get $steps) (i32.const 1)))))
    (v128.store offset=0 (i32.const 0) (local.get $a0))
    (v128.store offset=16 (i32.const 0) (local.get $a1))
    (v128.store offset=32 (i32.const 0) (local.get $a2))
    (v128.store offset=48 (i32.const 0) (local.get $a3))
    (v128.store offset=64 (i32.const 0) (local.get $b0))
    (v128.store offset=80 (i32.const 0) (local.get $b1))
    (v128.store offset=96 (i32.const 0) (local.get $b2))
    (v128.store offset=112 (i32.const 0) (local.get $b3))
    (local.set $acc (i32x4.neg (local.get $acc)))
    (i64.sub
      (i64.add
        (i64.add
          (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $acc)))
          (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $acc))))
        (i64.add
          (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $acc)))
          (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $acc)))))
      (local.get $corr)))
)
