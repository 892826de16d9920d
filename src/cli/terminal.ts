/**
 * The one sanitiser for text printed to a terminal. File names, identities, registry answers and error messages
 * are attacker-controlled; printed raw, a name can hold escape sequences that rewrite the screen (ESC, or U+009B,
 * the 8-bit CSI some terminals honour), erase a "NOT VERIFIED", or reorder what is shown with bidirectional
 * overrides (CVE-2021-42574, "Trojan Source": U+202A-U+202E, U+2066-U+2069). Every such character is shown as a
 * visible escape instead (`\x1b`, `\u202e`), on success paths too. JSON output keeps its meaning: the same
 * characters become JSON's own `\uXXXX` escapes, so a parser reads exactly the same strings.
 */

/** C0 controls, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;
/** The same minus what JSON text already escapes or uses as whitespace between tokens (C0 controls). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

function hex(c: string, width: number): string {
  return c.codePointAt(0)!.toString(16).padStart(width, '0');
}

/** One line of human output: every unsafe character (line breaks included) as a visible escape. */
export function terminalSafe(line: string): string {
  return line.replace(UNSAFE, (c) => (c.charCodeAt(0) < 0x100 ? `\\x${hex(c, 2)}` : `\\u${hex(c, 4)}`));
}

/**
 * JSON text (from JSON.stringify, or a stored document that parsed strictly) with the unsafe characters it may hold
 * raw inside strings written as `\uXXXX`: the same JSON value, nothing a terminal acts on. Outside strings valid
 * JSON has only whitespace and tokens, so the replacement can only land inside a string.
 */
export function jsonSafe(text: string): string {
  return text.replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4)}`);
}
