// The embedded engine's --parallel default: half the cores, from 1 to 4.
import { expect, it } from 'vitest';
import { defaultParallel } from '../../src/serving/embedded/llama.js';

it.each([[1, 1], [2, 1], [3, 1], [4, 2], [6, 3], [8, 4], [64, 4]])('%i cores serve %i requests at once', (cores, parallel) => {
  expect(defaultParallel(cores)).toBe(parallel);
});
