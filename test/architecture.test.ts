/**
 * Keeps docs/architecture.md true to the code: its table "Where each error code is raised" must list, for every
 * code of ERROR_CODES, the exit status of the code's category and exactly the files under src/ (src/errors.ts
 * aside) whose text contains the quoted code; every `src/...` path the document names must exist; and every import
 * under src/ must follow its import rules table (the layer order of the conventions, as data the test reads).
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
  // The import rules may name a layer that has no code yet (src/deps/): its rule is there before its first file.
  const prose = DOC.replace(section('### Import rules'), '');
  const named = new Set([...prose.matchAll(/`(src\/[^`\s]*)`/g)].map((m) => m[1]!));
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

/** `src/core/` for a file in that folder, `src/index.ts` for a root file. */
function layerOf(path: string): string {
  const parts = path.split('/');
  return parts.length > 2 ? `src/${parts[1]}/` : path;
}

/** The import rules table: layer -> the layers it may import (besides itself and src/errors.ts). */
function importRules(): Map<string, Set<string>> {
  const rules = new Map<string, Set<string>>();
  for (const line of section('### Import rules').split('\n')) {
    const m = /^\| `(src\/[^`]+)` \| (.*) \|$/.exec(line);
    if (!m) continue;
    const allowed = m[2]!.trim() === '—' ? [] : m[2]!.split(', ').map((c) => /^`(src\/[^`]+)`$/.exec(c.trim())?.[1]);
    assert.ok(!allowed.includes(undefined), `import rule for ${m[1]}: "${m[2]}" is not a list of backquoted layers`);
    rules.set(m[1]!, new Set(allowed as string[]));
  }
  return rules;
}

/** Every module another file imports: static, re-exports, type-only and dynamic `import('...')`. */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s*'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out;
}

it('imports follow the import rules of docs/architecture.md', () => {
  const rules = importRules();
  assert.ok(rules.has('src/core/') && rules.has('src/cli/'), 'the import rules table is there');
  const broken: string[] = [];
  for (const s of sources.filter((f) => f.path.endsWith('.ts'))) {
    const from = layerOf(s.path);
    const allowed = rules.get(from);
    assert.ok(allowed, `${from} has no row in the import rules of docs/architecture.md`);
    for (const spec of importsOf(s.text)) {
      if (!spec.startsWith('.')) continue;
      const target = join(s.path, '..', spec).split('\\').join('/');
      const to = layerOf(target);
      if (to === from || target === 'src/errors.ts') continue;
      if (!allowed.has(to)) broken.push(`${s.path} imports ${target} (${from} may not import ${to})`);
    }
  }
  assert.deepEqual(broken, [], 'imports against the layer order');
});

it('src/verify/ does no network I/O', () => {
  const network = /^node:(https?|http2|net|tls|dns|dgram)$|^(undici|node-fetch|make-fetch-happen)$/;
  const found: string[] = [];
  for (const s of sources.filter((f) => f.path.startsWith('src/verify/'))) {
    for (const spec of importsOf(s.text)) if (network.test(spec)) found.push(`${s.path} imports ${spec}`);
    if (/\bfetch\s*\(/.test(s.text)) found.push(`${s.path} calls fetch`);
  }
  assert.deepEqual(found, []);
});

it('the import checker sees every kind of import (so the rules cannot pass for want of reading them)', () => {
  const text = [
    "import { a } from '../core/json.ts';",
    "import type { B } from '../sign/bundle.ts';",
    "export { c } from '../artifact/target.ts';",
    "import 'reflect-metadata';",
    "const m = await import('../server/stack.ts');",
    'import {\n  d,\n  e,\n} from "nope";',
    "import {\n  f,\n} from '../instance/home.ts';",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), [
    '../artifact/target.ts',
    '../core/json.ts',
    '../instance/home.ts',
    '../server/stack.ts',
    '../sign/bundle.ts',
    'reflect-metadata',
  ]);
});
