/** The error lines: `vouch: NOT VERIFIED (CODE): message` or `vouch: error (CODE): message`, then the hint. */
import type { VouchError } from '../../errors.ts';

/** At most this many differences of a directory are listed under its error line (all of them are in --json). */
const MAX_LISTED = 50;

export function formatError(e: VouchError, describe?: (d: never) => string): string[] {
  const head = e.category === 'verification' ? `NOT VERIFIED (${e.code})` : `error (${e.code})`;
  const lines = [`vouch: ${head}: ${e.message}`, `  hint: ${e.hint}`];
  if (e.code === 'DIRECTORY_MISMATCH' && Array.isArray(e.details) && describe) {
    for (const d of e.details.slice(0, MAX_LISTED)) lines.push(`  ${describe(d as never)}`);
    if (e.details.length > MAX_LISTED) lines.push(`  ... and ${e.details.length - MAX_LISTED} more (see --json)`);
  }
  return lines;
}
