// --include / --exclude for push (over the walked folder) and pull (over a manifest's paths): one matcher, so a
// pattern selects the same files on both sides. Patterns follow .gitignore's rule for depth, which users of git,
// rsync and huggingface-cli expect: a pattern without a `/` matches a name at ANY depth (`*.gguf` selects
// `q4/model.gguf` too), a pattern with one is anchored at the top; and a pattern matching a folder selects
// everything under it (`--exclude onnx`). Matching only the top folder silently gave an incomplete version.
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

const escapeRegex = (text: string): string => text.replace(/[.+^${}()|[\]\\]/g, '\\$&');

/** One glob as a regular expression over a whole `/`-separated path: `**`, `*`, `?`, `[...]`, `{a,b}`. */
function globSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slashAfter = glob[i + 2] === '/';
      out += slashAfter ? '(?:[^/]*(?:/|$))*' : '.*';
      i += slashAfter ? 2 : 1;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = end;
      }
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) out += '\\{';
      else {
        out += `(?:${glob.slice(i + 1, end).split(',').map(globSource).join('|')})`;
        i = end;
      }
    } else out += escapeRegex(c);
  }
  return out;
}

function compile(pattern: string): (path: string) => boolean {
  const trimmed = pattern.replace(/^\.\//, '').replace(/\/+$/, '');
  const anchored = trimmed.includes('/');
  const whole = new RegExp(`^${globSource(trimmed)}$`);
  return (path) => {
    const segments = path.split('/');
    if (!anchored) return segments.some((segment) => whole.test(segment));
    // The path itself or any folder it lies in.
    for (let n = segments.length; n > 0; n--) if (whole.test(segments.slice(0, n).join('/'))) return true;
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
