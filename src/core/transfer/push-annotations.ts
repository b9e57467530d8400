import { basename } from 'node:path';
import type { SourceFile } from './walk.js';

// GGUF facts (architecture, parameter count, quantization, context length) become manifest annotations, so
// `aim inspect` and a future catalog can tell what a version holds without downloading it. Only the first shard of
// a split file has the header worth reading. A file that does not parse is pushed all the same, unannotated.

export async function ggufAnnotationsFor(files: SourceFile[]): Promise<Record<string, string>> {
  if (!files.some((file) => /\.gguf$/i.test(file.path))) return {};
  // Loaded only when there is a GGUF file: the GGUF package is a large part of what a push would load otherwise.
  const { ggufFacts, ggufAnnotations } = await import('../format/gguf.js');
  const { isFirstGgufFile } = await import('../../serving/gguf-shard-name.js');
  const ggufs = files.filter((file) => isFirstGgufFile(basename(file.path)));
  const annotations: Record<string, string> = {};
  const quantizations = new Set<string>();
  for (const file of ggufs) {
    const facts = await ggufFacts(file.absolute).catch(() => undefined);
    if (!facts) continue;
    for (const [key, value] of Object.entries(ggufAnnotations(facts))) annotations[key] ??= value;
    if (facts.quantization) quantizations.add(facts.quantization);
  }
  if (quantizations.size > 1) annotations['gguf.quantization'] = [...quantizations].join(',');
  return annotations;
}
