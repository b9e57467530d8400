// --include / --exclude for push (over the walked folder) and pull (over a manifest's paths): one matcher, so a
// pattern selects the same files on both sides. Patterns follow .gitignore's rule for depth, which users of git,
// rsync and huggingface-cli expect: a pattern without a `/` matches a name at ANY depth (`*.gguf` selects
// `q4/model.gguf` too), a pattern with one is anchored at the top; and a pattern matching a folder selects
// everything under it (`--exclude onnx`). Matching only the top folder silently gave an incomplete version.
import picomatch from 'picomatch';
import { UsageError } from '../../lib/errors.js';
import { unsafePatternReason } from '../format/paths.js';

export interface PathSelection {
  include?: string[];
  exclude?: string[];
}

/** Rejects a pattern that could reach outside the folder (absolute, `..`) or holds a control character. */
export function checkPatterns(flag: string, patterns: string[] | undefined): void {
  for (const pattern of patterns ?? []) {
    const reason = unsafePatternReason(pattern);
    if (reason) {
      throw new UsageError(`${flag} "${pattern}" ${reason}: it could reach outside the folder`, {
        hint: `patterns are matched inside the folder, e.g. ${flag} "weights/*.safetensors"`,
      });
    }
  }
}

/**
 * One pattern as a test of a `/`-separated path, matched by picomatch (fast-glob's matcher): without a `/` it
 * matches a name at any depth (picomatch's basename rule); with one it is anchored at the top. A pattern that
 * matches a folder selects everything under it, so each folder a path lies in is tried too.
 */
function compile(pattern: string): (path: string) => boolean {
  const trimmed = pattern.replace(/^\.\//, '').replace(/\/+$/, '');
  const matches = picomatch(trimmed, { dot: true, basename: !trimmed.includes('/') });
  return (path) => {
    const segments = path.split('/');
    for (let n = segments.length; n > 0; n--) if (matches(segments.slice(0, n).join('/'))) return true;
    return false;
  };
}

/** A test of a relative path: selected by some --include (every path when there is none) and by no --exclude. */
export function pathFilter(selection: PathSelection): (path: string) => boolean {
  checkPatterns('--include', selection.include);
  checkPatterns('--exclude', selection.exclude);
  const include = (selection.include ?? []).map(compile);
  const exclude = (selection.exclude ?? []).map(compile);
  return (path) => (include.length === 0 || include.some((test) => test(path))) && !exclude.some((test) => test(path));
}

export const selectsEverything = (selection: PathSelection): boolean => !selection.include?.length && !selection.exclude?.length;
