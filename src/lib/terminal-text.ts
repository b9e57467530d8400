// Everything aim prints for a person passes through here, because much of it came from somewhere aim does not
// control: model, tag and file names, annotations, S3 error texts, server messages. A control character in them
// (ESC starting a sequence, CR rewriting the line, a C1 CSI) would drive the user's terminal, so each is shown as
// an escape instead. Bidirectional overrides and the Unicode line and paragraph separators are escaped too: they make a name read
// differently from its bytes, or start a line aim did not print.

const CONTROLS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
// What JSON.stringify leaves raw inside strings (it escapes C0 itself, and the layout's own line breaks must stay).
const RAW_IN_JSON = /[\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeCharacter(character: string): string {
  const code = character.charCodeAt(0);
  return NAMED[character] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** Text of several lines (a table, a summary): its line breaks stay, every other control character is escaped. */
export function terminalText(text: string): string {
  return text.replace(CONTROLS_BUT_NEWLINE, escapeCharacter);
}

/** One line (an error, a warning, a progress note): line breaks inside it are escaped too, so it stays one line. */
export function terminalLine(text: string): string {
  return text.replace(CONTROLS, escapeCharacter);
}

/**
 * A hint may span lines (an engine's log tail), but every line after the first is indented, so nothing in it can
 * pass for a line of aim's own (`aim: error: ...`).
 */
export function hintText(hint: string): string {
  return terminalText(hint)
    .split('\n')
    .map((line, index) => (index === 0 || /^\s/.test(line) ? line : `    ${line}`))
    .join('\n');
}

/**
 * `--json` output. JSON.stringify escapes C0 controls but leaves DEL, C1 controls and bidirectional overrides raw;
 * written as \u escapes they parse back to the same strings and cannot reach a terminal that shows the JSON.
 */
export function jsonText(data: unknown): string {
  return escapeRawInJson(JSON.stringify(data, null, 2));
}

/** JSON text already made (a log line) with the characters JSON.stringify leaves raw written as \u escapes. */
export function escapeRawInJson(json: string): string {
  return json.replace(RAW_IN_JSON, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
