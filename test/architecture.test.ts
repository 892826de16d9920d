/**
 * Keeps docs/architecture.md true to the code: its table "Where each error code is raised" must list, for every
 * code of ERROR_CODES, the exit status of the code's category and exactly the files under src/ (src/errors.ts
 * aside) whose text contains the quoted code; and every `src/...` path the document names must exist.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERROR_CODES, type ErrorCode, EXIT } from '../src/errors.ts';

const REPO = join(import.meta.dirname, '..');
const DOC = readFileSync(join(REPO, 'docs', 'architecture.md'), 'utf8');
const TABLE_HEADING = '## Where each error code is raised';

/** Every file under `dir`, as a repository-relative path with `/` separators. */
function filesUnder(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return filesUnder(path);
    return e.isFile() ? [path] : [];
  });
}

/** The section of the document under `heading`, up to the next heading of the same level. */
function section(heading: string): string {
  const start = DOC.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `docs/architecture.md has no "${heading}" section`);
  const body = DOC.slice(start + heading.length + 2);
  const end = body.search(/^## /m);
  return end === -1 ? body : body.slice(0, end);
}

interface Row {
  status: number;
  files: string[];
}

function tableRows(): Map<string, Row> {
  const rows = new Map<string, Row>();
  for (const line of section(TABLE_HEADING).split('\n')) {
    const m = /^\| `([A-Z_]+)` \| (\d+) \| (.*) \|$/.exec(line);
    if (!m) continue;
    const [, code, status, cell] = m as unknown as [string, string, string, string];
    assert.ok(!rows.has(code), `the table has two rows for ${code}`);
    const items = cell.trim() === '—' ? [] : cell.split(', ');
    const files = items.map((item) => {
      const f = /^`(src\/[^`]+)`$/.exec(item);
      assert.ok(f, `row ${code}: "${item}" is not a backquoted src/ path (format: \`src/a.ts\`, \`src/b.ts\`)`);
      return f[1]!;
    });
    assert.equal(new Set(files).size, files.length, `row ${code} lists a file twice`);
    rows.set(code, { status: Number(status), files });
  }
  return rows;
}

const sources = filesUnder('src')
  .filter((f) => f !== 'src/errors.ts')
  .map((path) => ({ path, text: readFileSync(join(REPO, path), 'utf8') }));

it('the error table has one row per code of ERROR_CODES, with its exit status and every file that names it', () => {
  const rows = tableRows();
  for (const [code, [category]] of Object.entries(ERROR_CODES) as [ErrorCode, (typeof ERROR_CODES)[ErrorCode]][]) {
    const row = rows.get(code);
    assert.ok(row, `docs/architecture.md has no row for ${code}`);
    assert.equal(row.status, EXIT[category], `exit status of ${code}`);
    const expected = sources
      .filter((s) => s.text.includes(`'${code}'`))
      .map((s) => s.path)
      .sort();
    assert.deepEqual([...row.files].sort(), expected, `files that raise or handle ${code}`);
  }
  for (const code of rows.keys()) assert.ok(code in ERROR_CODES, `the table documents unknown code ${code}`);
});

it('every src/ path named in docs/architecture.md exists', () => {
  const named = new Set([...DOC.matchAll(/`(src\/[^`\s]*)`/g)].map((m) => m[1]!));
  assert.ok(named.size > 0);
  const missing = [...named].filter((p) => !existsSync(join(REPO, ...p.split('/'))));
  assert.deepEqual(missing, [], 'paths named in docs/architecture.md that do not exist');
});

it('every folder of src/ that holds code has its paragraph in the layers section', () => {
  const layers = section('## Layers');
  const folders = new Set(
    sources
      .map((s) => s.path.split('/'))
      .filter((p) => p.length > 2)
      .map((p) => p[1]!),
  );
  for (const folder of folders) {
    assert.ok(layers.includes(`\`src/${folder}/\``), `the layers section does not describe src/${folder}/`);
  }
});
