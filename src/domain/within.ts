/**
 * `p`'s value, or `fallback` once `ms` passed first; the timer never outlives the race (nothing is
 * left to keep a process alive).
 * @example await within(session.done, 5000, undefined)
 */
export async function within<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<F>((r) => (timer = setTimeout(() => r(fallback), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
