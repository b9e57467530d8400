/** Runs `work` on every item, at most `limit` at a time, in order of start; rejects with the first failure. */
export async function forEachConcurrently<T>(items: Iterable<T>, limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  const queue = items[Symbol.iterator]();
  const worker = async (): Promise<void> => {
    for (let next = queue.next(); !next.done; next = queue.next()) await work(next.value);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
