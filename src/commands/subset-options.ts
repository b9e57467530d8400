import { Option } from 'clipanion';
import type { QuantFit } from '../core/serve/quant-fit.js';
import type { FileSelection } from '../core/transfer/subset.js';
import { AimCommand } from './base.js';
import { formatBytes } from './render/format.js';

// --include, --exclude and --quant of the commands that fetch a version (pull, install, run): which files to take.

export abstract class SelectingCommand extends AimCommand {
  include = Option.Array('--include', [], { description: 'only take files matching this glob; without a slash it matches a name at any depth (repeatable)' });
  exclude = Option.Array('--exclude', [], { description: 'leave out files matching this glob, e.g. "onnx" or "*.bin" (repeatable)' });
  quant = Option.String('--quant', { description: 'of the GGUF files take only this quantization (e.g. q4_k_m), or `auto`: the largest that fits free memory' });

  /** The files to take; --quant auto reserves the KV cache `aim run` would open (serve.ctx-size x serve.parallel). */
  async selection(): Promise<FileSelection> {
    if (!this.quant) return { include: this.include, exclude: this.exclude };
    // Imported here: the context comes from the embedded engine's module, which a pull without --quant never needs.
    const { servedContext } = await import('../core/serve/served-context.js');
    return { include: this.include, exclude: this.exclude, quant: this.quant, context: servedContext((await this.session()).settings()) };
  }
}

/** One line saying why --quant auto chose what it chose. */
export function describeFit(fit: QuantFit): string {
  const { chosen, fits, variants } = fit;
  const freeBytes = fit.gpu ? `${formatBytes(fit.freeBytes - fit.gpu.freeBytes)} of RAM and ${formatBytes(fit.gpu.freeBytes)} of ${fit.gpu.backend} GPU memory` : formatBytes(fit.freeBytes);
  const need = (v: { quant: string; fitBytes: number }) => `${v.quant} (${formatBytes(v.fitBytes)})`;
  if (!fits) return `${need(chosen)} is the smallest quantization, and even it needs more than the ${freeBytes} free`;
  const larger = variants.filter((v) => v.fitBytes > chosen.fitBytes);
  const smaller = variants.filter((v) => v.fitBytes < chosen.fitBytes);
  const tooBig = larger.length ? `; ${larger.map(need).join(', ')} would not` : '';
  const others = smaller.length ? `; ${smaller.map(need).join(', ')} would too but ${smaller.length === 1 ? 'is' : 'are'} smaller` : '';
  return `${need(chosen)} fits ${freeBytes} free${tooBig}${others}`;
}
