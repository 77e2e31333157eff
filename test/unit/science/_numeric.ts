/** The largest relative error of `got` against `want`, element by element. */
export function maxRelErr(got: Float64Array, want: ArrayLike<number>): number {
  let worst = 0;
  for (let k = 0; k < want.length; k++) {
    const w = want[k] as number;
    worst = Math.max(worst, Math.abs((got[k] as number) - w) / Math.abs(w));
  }
  return worst;
}
