import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERROR_CODES, EXIT } from '../src/errors.ts';

const REPO = join(import.meta.dirname, '..');

it('the README documents every error code with its exit status, and no code that does not exist', () => {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const documented = new Map<string, number>();
  for (const m of readme.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)) documented.set(m[1]!, Number(m[2]));
  for (const [code, [category]] of Object.entries(ERROR_CODES)) {
    assert.equal(documented.get(code), EXIT[category], `README row for ${code}`);
  }
  for (const code of documented.keys()) assert.ok(code in ERROR_CODES, `README documents unknown code ${code}`);
});

it('the README starts with the two set-up commands', () => {
  const lines = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n');
  const block = lines.slice(lines.indexOf('```sh') + 1, lines.indexOf('```')).filter((l) => l.trim());
  assert.equal(block.length, 2);
  assert.match(block[0]!, /npm run demo/);
  assert.match(block[1]!, /npm run test:ci/);
});
