// Rewrites the osslsigncode / vouch comparison table of docs/authenticode.md: builds the test PE files (binutils),
// signs and tampers them (osslsigncode, a throwaway CA), and records what each tool says. Run after changing the
// PE check or the cases in test/helpers/pe.ts: `node scripts/authenticode-table.mjs`. test/pe/authenticode.test.ts
// fails until the table is current.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { authenticodeRows, BEGIN, END, osslsigncodeVersion, renderTable } from '../test/helpers/authenticode-table.ts';
import { havePeTools, peWorkshop } from '../test/helpers/pe.ts';

const missing = havePeTools();
if (missing) {
  console.error(`authenticode-table: ${missing}`);
  process.exit(2);
}
const ws = await peWorkshop();
try {
  const table = renderTable(osslsigncodeVersion(), await authenticodeRows(ws));
  const doc = join(import.meta.dirname, '..', 'docs', 'authenticode.md');
  const text = readFileSync(doc, 'utf8');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start === -1 || end === -1) throw new Error('docs/authenticode.md has no table markers');
  writeFileSync(doc, text.slice(0, start) + table + text.slice(end + END.length));
} finally {
  await ws.cleanup();
}
