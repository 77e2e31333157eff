/**
 * Settles as `promise` does, or rejects with `onTimeout()` after `ms` if it has not settled by then
 * (the promise itself runs on; only the wait ends).
 */
export function settleWithin<T>(promise: PromiseLike<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
