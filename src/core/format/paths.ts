// The one rule for a file's path inside a version. Push checks every name it would store with it before anything
// is uploaded, and pull checks every manifest it reads with it, so a version push accepts is a version pull can
// write, and a hostile manifest cannot name a place outside the destination.

/** Longest path, in UTF-8 bytes: PATH_MAX on macOS (Linux allows 4096, which includes the destination's own path). */
export const MAX_PATH_BYTES = 1024;
/** Longest segment, in UTF-8 bytes: NAME_MAX on Linux and macOS. */
export const MAX_SEGMENT_BYTES = 255;

// C0 controls, DEL and C1 controls: a newline splits a listing line, ESC and CSI drive the terminal.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Half of a UTF-16 surrogate pair: no file system name can hold it, and writing it would store U+FFFD instead.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `path` is not a safe relative path for a version's file, or undefined when it is one. */
export function unsafePathReason(path: unknown): string | undefined {
  if (typeof path !== 'string' || path.length === 0) return 'is empty';
  if (LONE_SURROGATE.test(path)) return 'is not valid Unicode';
  if (path.includes('\0')) return 'contains a NUL byte';
  if (CONTROL.test(path)) return 'contains a control character';
  if (path.includes('\\')) return 'contains a backslash';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute';
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return `is longer than ${MAX_PATH_BYTES} bytes`;
  for (const segment of path.split('/')) {
    if (segment === '') return 'has an empty segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  if (path === '.aim' || path.startsWith('.aim/')) return 'is inside .aim/, which aim keeps for itself';
  return undefined;
}

/**
 * Why a glob given to --include or --exclude could reach outside the folder being pushed, or undefined. Patterns are
 * matched relative to that folder, so only an absolute pattern or a `..` segment can leave it.
 */
export function unsafePatternReason(pattern: string): string | undefined {
  if (pattern.length === 0) return 'is empty';
  if (CONTROL.test(pattern)) return 'contains a control character';
  if (pattern.startsWith('/') || /^[A-Za-z]:/.test(pattern)) return 'is absolute';
  if (pattern.split(/[/\\]/).some((segment) => segment === '..')) return 'has a ".." segment';
  return undefined;
}
