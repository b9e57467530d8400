import { resolve } from 'node:path';
import { isMap, type Document } from 'yaml';
import { ConfigError } from '../../lib/errors.js';
import { effectiveSettings } from '../../settings/resolve-settings.js';
import { knownSetting, type SettingValue } from '../../settings/settings-table.js';
import { CONFIG_FILE_NAME, configFromDocument, type AimConfig } from './config.js';
import { writeConfigFile } from './config-edit.js';

// `aim config set` and `unset`: edits of the `aim:` section through the YAML Document, so the comments, order and
// formatting of a shared file survive, checked by the loader every command uses, and written atomically.

export interface SettingEdit {
  /** The file written. */
  file: string;
  key: string;
  /** The value written, or undefined when the key was removed. */
  value?: SettingValue;
}

/** The value as it is written in YAML: numbers as numbers, a port range as its text. */
function yamlValue(value: SettingValue): unknown {
  if (value !== undefined && typeof value === 'object') return value.first === value.last ? value.first : `${value.first}-${value.last}`;
  return value;
}

/** Removes the mappings left empty under `aim:` by an unset, `aim:` included: they would only say nothing. */
function pruneEmpty(document: Document, path: string[]): void {
  for (let depth = path.length - 1; depth >= 1; depth -= 1) {
    const node = document.getIn(path.slice(0, depth));
    if (isMap(node) && node.items.length === 0) document.deleteIn(path.slice(0, depth));
  }
}

/** The edited document, checked: what commands would load, and an `aim:` section whose every value reads. */
function checked(document: Document, file: string): void {
  const reloaded = configFromDocument(document, file);
  // The environment is left out: this checks the file, whatever this shell's variables say.
  effectiveSettings({ aimSection: reloaded.aimSection, file, legacyKamiwazaUrl: reloaded.kamiwaza?.url }, {}, {});
}

async function edit(config: AimConfig, key: string, change: (document: Document, path: string[]) => SettingValue, cwd: string): Promise<SettingEdit> {
  const file = config.filepath ?? resolve(cwd, CONFIG_FILE_NAME);
  const document = config.document.clone();
  if (!isMap(document.contents)) document.contents = document.createNode({}) as typeof document.contents;
  const path = ['aim', ...key.split('.')];
  const value = change(document, path);
  checked(document, file);
  await writeConfigFile(file, document.toString());
  return { file, key, value };
}

export function setSetting(config: AimConfig, key: string, text: string, cwd = process.cwd()): Promise<SettingEdit> {
  const definition = knownSetting(key);
  const parsed = definition.parse(text);
  if ('problem' in parsed) throw new ConfigError(`${key} ${parsed.problem}`, { hint: `${definition.description}; nothing was written` });
  return edit(config, key, (document, path) => {
    // A scalar where a section belongs (`aim: 3`) is replaced: it is not a setting and the key has to live there.
    for (let depth = 1; depth < path.length; depth += 1) {
      if (!isMap(document.getIn(path.slice(0, depth)))) document.setIn(path.slice(0, depth), document.createNode({}));
    }
    document.setIn(path, yamlValue(parsed.value));
    return parsed.value;
  }, cwd);
}

export function unsetSetting(config: AimConfig, key: string, cwd = process.cwd()): Promise<SettingEdit> {
  knownSetting(key);
  if (!config.filepath) throw new ConfigError(`${key} is not set: no config file was found`, { hint: 'nothing to unset' });
  return edit(config, key, (document, path) => {
    if (isMap(document.getIn(path.slice(0, -1)))) document.deleteIn(path);
    pruneEmpty(document, path);
    return undefined;
  }, cwd);
}
