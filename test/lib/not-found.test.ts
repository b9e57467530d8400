import { describe, expect, it } from 'vitest';
import { NotFoundError, StorageError } from '../../src/lib/errors.js';
import { undefinedIfNotFound } from '../../src/lib/not-found.js';

describe('undefinedIfNotFound', () => {
  it('turns a missing object into undefined and rethrows every other failure', async () => {
    expect(await Promise.reject(new NotFoundError('gone')).catch(undefinedIfNotFound)).toBeUndefined();
    const failure = new StorageError('connection reset');
    await expect(Promise.reject(failure).catch(undefinedIfNotFound)).rejects.toBe(failure);
    expect(await Promise.resolve('bytes').catch(undefinedIfNotFound)).toBe('bytes');
  });
});
