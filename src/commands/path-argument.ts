import * as t from 'typanion';

// A path given on the command line. An empty one is what `aim pull team/m:v1 "$DEST"` passes when DEST is unset,
// and Node resolves "" to the current folder: a push would upload it whole, a pull would write into it and a key
// would be written as the hidden files `.key` and `.pub`. It is never what was meant, so it is a usage error.

const EMPTY = 'expected a path, got an empty string (an unset shell variable?)';

/** clipanion validator for an option or positional naming a file or folder: any string but the empty one. */
export const isPath = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (typeof value === 'string' && value.length > 0) return true;
    state?.errors?.push(`${state.p ?? '.'}: ${typeof value === 'string' ? EMPTY : 'expected a path'}`);
    return false;
  },
});

/**
 * A folder (or, for push, a file) to read or write, where `-` means nothing: `aim pull REF -` would otherwise write
 * a folder named "-". A real folder of that name is still reached as `./-`.
 */
export const isFolderPath = t.makeValidator<unknown, string>({
  test: (value, state): value is string => {
    if (!isPath(value, state)) return false;
    if (value !== '-') return true;
    state?.errors?.push(`${state.p ?? '.'}: "-" (standard input or output) names no folder here; a tar goes through \`aim export REF -o -\` and \`aim import - REF\` (a folder named "-" is ./-)`);
    return false;
  },
});
