import { Option } from 'clipanion';
import * as t from 'typanion';
import { UsageError } from '../lib/errors.js';
import type { PullResult } from '../core/transfer/pull.js';
import { push, type PushResult } from '../core/transfer/push.js';
import { AimCommand } from './base.js';
import { counted } from '../lib/plural.js';
import { formatBytes, formatTime } from './render/format.js';
import { signerFromFlags } from './signing-options.js';
import { describeFit } from './subset-options.js';
import { isPath } from './path-argument.js';

// Options and output that `aim model push` and the short `aim push` share (likewise for pull).

/** `--concurrency N`: chunks in flight; overrides the repository's `concurrency` setting. */
export function concurrencyOption() {
  return Option.String('--concurrency', {
    description: "chunks moved at once (default: the repository's concurrency setting, 8 for folders, 24 for S3)",
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 256)]),
  });
}

export abstract class PushingCommand extends AimCommand {
  force = Option.Boolean('--force', false, { description: 'move an existing tag to different content' });
  include = Option.Array('--include', [], { description: 'only push files matching this glob, relative to the folder (repeatable)' });
  exclude = Option.Array('--exclude', [], { description: 'skip files matching this glob, relative to the folder (repeatable)' });
  description = Option.String('--description', { description: 'annotation: what this version is (shown by search and list)' });
  license = Option.String('--license', { description: 'annotation: the license, e.g. apache-2.0' });
  origin = Option.String('--source', { description: 'annotation: where the model comes from, e.g. a URL' });
  annotations = Option.Array('--annotation', [], { description: 'annotation KEY=VALUE (repeatable)' });
  rehash = Option.Boolean('--rehash', false, { description: 'read and hash every file, ignoring the cache of unchanged files' });
  concurrency = concurrencyOption();
  chunkMin = Option.String('--chunk-min', { description: 'smallest chunk in bytes (or KiB/MiB) if this push creates the repository' });
  chunkAvg = Option.String('--chunk-avg', { description: 'average chunk in bytes (or KiB/MiB) if this push creates the repository' });
  chunkMax = Option.String('--chunk-max', { description: 'largest chunk in bytes (or KiB/MiB) if this push creates the repository' });
  sign = Option.Boolean('--sign', false, { description: 'sign the version (model-signing format) before its tag moves; needs --key' });
  key = Option.String('--key', { validator: isPath, description: 'private key to sign with (NAME.key from `aim key generate NAME`)' });

  protected override settingFlags(): Record<string, unknown> {
    return { 'transfer.concurrency': this.concurrency, 'chunking.min': this.chunkMin, 'chunking.avg': this.chunkAvg, 'chunking.max': this.chunkMax };
  }

  protected async pushAndReport(repo: string, model: string, tag: string, source: string): Promise<void> {
    // The key is read before any byte moves: a wrong key fails now, not after the upload.
    const signer = await signerFromFlags(this.sign, this.key);
    const result = await push(await this.repository(repo), source, {
      signer,
      model,
      tag,
      force: this.force,
      rehash: this.rehash,
      concurrency: this.concurrency,
      include: this.include,
      exclude: this.exclude,
      annotations: parseAnnotations(this.annotations, { description: this.description, license: this.license, source: this.origin }),
      progress: this.progress(),
    });
    this.report(result, () => describePush(result));
  }
}

/** `--annotation KEY=VALUE` pairs, then the named flags (`--description`, ...), which win over a pair of the same key. */
export function parseAnnotations(pairs: string[], named: Record<string, string | undefined> = {}): Record<string, string> {
  const annotations: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`--annotation ${pair} is not KEY=VALUE`, { hint: 'e.g. --annotation license=apache-2.0' });
    annotations[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  for (const [key, value] of Object.entries(named)) if (value) annotations[key] = value;
  return annotations;
}

export function describePush(result: PushResult): string {
  const what = `${result.repo}/${result.model}:${result.tag}`;
  const verb = result.tagOutcome === 'unchanged' ? 'unchanged (same content already pushed)' : result.tagOutcome === 'moved' ? 'moved' : 'pushed';
  return [
    `${what} ${verb}`,
    `  digest       ${result.digest}`,
    `  files        ${result.files} (${formatBytes(result.totalBytes)}, ${counted(result.chunks, 'chunk')})`,
    `  transferred  ${formatBytes(result.bytesTransferred)}, skipped ${formatBytes(result.bytesSkipped)} already stored`,
    `  time         ${formatTime(result.seconds, result.totalBytes, result.bytesTransferred)}`,
    ...(result.skippedSymlinks.length ? [`  skipped links to no regular file: ${result.skippedSymlinks.join(', ')}`] : []),
  ].join('\n');
}

export function describePull(result: PullResult): string {
  const { subset } = result;
  return [
    `${result.repo}/${result.model}${result.tag ? `:${result.tag}` : ''} pulled into ${result.dest}`,
    `  digest       ${result.digest}`,
    `  files        ${result.files} (${formatBytes(result.totalBytes)}), ${result.filesUnchanged} already up to date`,
    ...(subset ? [`  subset       ${result.files} of ${subset.versionFiles} files (${formatBytes(result.totalBytes)} of ${formatBytes(subset.versionBytes)})${subset.quant ? `, quantization ${subset.quant}` : ''}`] : []),
    ...(result.fit ? [`  quant auto   ${describeFit(result.fit)}`] : []),
    `  transferred  ${formatBytes(result.bytesTransferred)}, skipped ${formatBytes(result.bytesSkipped)} already here`,
    `  time         ${formatTime(result.seconds, result.totalBytes, result.bytesTransferred)}`,
  ].join('\n');
}
