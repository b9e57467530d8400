import { randomBytes } from 'node:crypto';
import { digestOf } from '../../src/core/format/digest.js';

/**
 * Bytes of a file that is one chunk whose digest starts with 00: a key chunk (1 in 256 random buffers is one). Small
 * enough (12 KiB, under the smallest head chunk) that the file is cut into that one chunk.
 */
export async function keyChunkBytes(): Promise<{ bytes: Buffer; hex: string }> {
  for (;;) {
    const bytes = randomBytes(12 * 1024);
    const hex = (await digestOf(bytes)).slice('blake3:'.length);
    if (hex.startsWith('00')) return { bytes, hex };
  }
}
