import { describeSource, type EffectiveSetting } from '../../settings/resolve-settings.js';
import { settingDefinition, settingText } from '../../settings/settings-table.js';

// One setting as `aim config` and `aim info` show it: JSON for scripts, a table row for people.

export function settingJson(setting: EffectiveSetting) {
  const definition = settingDefinition(setting.key)!;
  const value = setting.value === undefined ? null : typeof setting.value === 'object' ? settingText(setting.value) : setting.value;
  return {
    key: setting.key, value, text: setting.text, source: setting.source, from: describeSource(setting.source),
    env: definition.env[0]!, flag: definition.flag, description: setting.description,
  };
}

export function settingRow(setting: EffectiveSetting): string[] {
  return [setting.key, setting.text, describeSource(setting.source)];
}

export const SETTING_HEADERS = ['SETTING', 'VALUE', 'FROM'];
