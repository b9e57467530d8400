// The process's umask, read once. Node reads it only through process.umask() with no argument, which is deprecated
// because reading it means setting it back, a race with a thread that sets it meanwhile; nothing in aim sets it.

let bits: number | undefined;

/** The permission bits new files do not get. */
export function umaskBits(): number {
  return (bits ??= process.umask());
}
