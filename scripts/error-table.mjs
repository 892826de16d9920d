// Rewrites the file lists of the "Where each error code is raised" table in docs/architecture.md from the code:
// for each stable code, every file under src/ (but src/errors.ts) that names it in quotes. Run after adding or
// moving an error: `node scripts/error-table.mjs`. test/architecture.test.ts fails until the table is current.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const repo = join(import.meta.dirname, '..');
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.ts') && !p.endsWith(join('src', 'errors.ts'))) files.push(p);
  }
};
walk(join(repo, 'src'));
const texts = files.map((f) => [relative(repo, f).split('\\').join('/'), readFileSync(f, 'utf8')]);
const doc = join(repo, 'docs', 'architecture.md');
const text = readFileSync(doc, 'utf8').replace(/^\| `([A-Z_]+)` \| (\d+) \| .*\|$/gm, (_row, code, status) => {
  const where = texts
    .filter(([, t]) => t.includes(`'${code}'`))
    .map(([f]) => f)
    .sort();
  return `| \`${code}\` | ${status} | ${where.map((f) => `\`${f}\``).join(', ')} |`;
});
writeFileSync(doc, text);
