import { type Backend, ObjectTooLargeError } from '../../backends/backend.js';
import { corrupt, type Format } from '../format/schemas/parse.js';

/**
 * `key` read whole, at most as large as its format allows; a larger object is refused before its bytes are read
 * (a repository is shared: a key holding gigabytes must cost a plain error, not memory), with the format's
 * "corrupt X at WHERE" message.
 */
export async function getBounded(backend: Backend, key: string, format: Format, where: string): Promise<Buffer> {
  try {
    return await backend.get(key, format.maxBytes);
  } catch (error) {
    if (!(error instanceof ObjectTooLargeError)) throw error;
    const size = error.size === undefined ? 'more than' : `${error.size} bytes, more than`;
    throw corrupt(format, where, `${size} the ${format.maxBytes} such a file can hold`);
  }
}
