import type { SourceFile } from './walk.js';

// GGUF facts (architecture, parameter count, quantization, context length) become manifest annotations, so
// `aim inspect` and a future catalog can tell what a version holds without downloading it. Only the first shard of
// a split file has the header worth reading. A file that does not parse is pushed all the same, unannotated.

const isFirstGguf = (path: string): boolean => /\.gguf$/i.test(path) && (!/-\d{5}-of-\d{5}\.gguf$/i.test(path) || /-00001-of-\d{5}\.gguf$/i.test(path));

export async function ggufAnnotationsFor(files: SourceFile[]): Promise<Record<string, string>> {
  const ggufs = files.filter((file) => isFirstGguf(file.path));
  if (ggufs.length === 0) return {};
  const { ggufFacts, ggufAnnotations } = await import('../format/gguf.js');
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
