import { constants } from 'node:fs';
import { openRegular, readFully } from '../../lib/safe-fs.js';

// A tar entry's name comes before its bytes, but a layer's name is its sha256, known only once its bytes went by.
// Written to a file, a layer's entry is first named by a placeholder of the same length, then its header is
// rewritten in place: the name, then the header checksum (the sum of the header's bytes, with the checksum field
// counted as spaces, in six octal digits, a space and a NUL, as tar-stream writes it). One read of the repository
// instead of two.

const HEADER_BYTES = 512;
const NAME_BYTES = 100;
const CHECKSUM_AT = 148;
const CHECKSUM_BYTES = 8;

export interface NamePatch {
  /** Where the entry's header starts in the tar. */
  offset: number;
  placeholder: string;
  name: string;
}

/**
 * Rewrites each entry's placeholder name in the tar file at `path` (opened as a regular file, never through a link put
 * at its name); a header that does not hold it is a bug, thrown.
 */
export async function rewriteTarNames(path: string, patches: NamePatch[]): Promise<void> {
  const handle = await openRegular(path, constants.O_RDWR);
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    for (const patch of patches) {
      if ((await readFully(handle, header, patch.offset)) !== HEADER_BYTES || header.toString('latin1', 0, patch.placeholder.length) !== patch.placeholder) {
        throw new Error(`tar header at ${patch.offset} of ${path} does not hold ${patch.placeholder}`);
      }
      header.fill(0, 0, NAME_BYTES);
      header.write(patch.name, 0, NAME_BYTES, 'latin1');
      header.fill(0x20, CHECKSUM_AT, CHECKSUM_AT + CHECKSUM_BYTES);
      const sum = header.reduce((total, byte) => total + byte, 0);
      header.fill(0, CHECKSUM_AT, CHECKSUM_AT + CHECKSUM_BYTES);
      header.write(`${sum.toString(8).padStart(6, '0')} `, CHECKSUM_AT, 'latin1');
      await handle.write(header, 0, HEADER_BYTES, patch.offset);
    }
  } finally {
    await handle.close();
  }
}
