/**
 * The package as others use it: a TypeScript consumer compiles against the built declarations with
 * `skipLibCheck: false` (every .d.ts reachable from `vouch` is checked, ours and our dependencies'); every package
 * src/ loads at run time is a declared dependency; and `pg`, an optional dependency, is reported as missing with a
 * stable code when the CLI runs without it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { errorCode, REPO, tempDir } from '../helpers/cli.ts';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('the package for its users', () => {
  const tmp = tempDir('vouch-package-');
  after(tmp.dispose);

  it('its public types compile for a consumer with skipLibCheck: false', () => {
    assert.ok(existsSync(join(REPO, 'dist', 'lib', 'index.d.ts')), 'built declarations (npm run build)');
    const dir = join(tmp.path, 'consumer');
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    symlinkSync(REPO, join(dir, 'node_modules', 'vouch'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2023',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          strict: true,
          skipLibCheck: false,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules', '@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    // The README's library example, plus a key given as the bytes of a .pub file.
    writeFileSync(
      join(dir, 'consumer.ts'),
      `import { readFileSync } from 'node:fs';
import * as vouch from 'vouch';
import { isVouchError, sign, type SignResult, type VerifyOutcome, verify } from 'vouch';

const signed: SignResult = await sign('file:app.exe');
console.log(signed.signer, signed.bundlePath, signed.bundle?.mediaType);
try {
  const result: VerifyOutcome = await verify('app.exe', { keys: [{ spki: readFileSync('release.pub') }] });
  console.log(result.signer, result.timestamps);
} catch (e) {
  if (isVouchError(e)) console.error(e.code, e.exitStatus, e.hint);
}
console.log(Object.keys(vouch));
`,
    );
    const r = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('every package src/ loads at run time is a dependency (not a dev dependency)', () => {
    const runtime = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.optionalDependencies ?? {})]);
    const files = (readdirSync(join(REPO, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    const used = new Map<string, string>();
    for (const f of files) {
      const text = readFileSync(join(REPO, 'src', f), 'utf8');
      // Static imports that are not type-only, side-effect imports, and dynamic imports.
      const specifiers = [
        ...text.matchAll(/^import (?!type )[^;]*?from '([^'.][^']*)';/gms),
        ...text.matchAll(/^import '([^'.][^']*)';/gm),
        ...text.matchAll(/\bimport\('([^'.][^']*)'\)/g),
      ].map((m) => m[1]!);
      for (const s of specifiers) {
        if (s.startsWith('node:')) continue;
        const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!;
        used.set(name, f);
      }
    }
    for (const [name, file] of used) assert.ok(runtime.has(name), `src/${file} loads ${name}, not a dependency`);
    assert.ok(pkg.optionalDependencies?.pg, 'pg is optional: only vouch serve --postgres needs it');
  });

  it('vouch serve --postgres without pg installed: DEPENDENCY_MISSING, exit 2', () => {
    // The CLI as shipped (bin, dist/cli, assets, package.json) with no node_modules at all: the bundle carries
    // every dependency but the optional ones.
    const copy = join(tmp.path, 'shipped');
    for (const part of ['bin', 'assets', 'package.json', join('dist', 'cli')]) {
      cpSync(join(REPO, part), join(copy, part), { recursive: true });
    }
    const r = spawnSync(
      process.execPath,
      [
        join(copy, 'bin', 'vouch.mjs'),
        'serve',
        '--data',
        join(tmp.path, 'data'),
        '--port',
        '0',
        '--postgres',
        'postgres://127.0.0.1:1/none',
      ],
      { encoding: 'utf8', env: { ...process.env, VOUCH_HOME: join(tmp.path, 'home') }, timeout: 60_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(errorCode(r.stderr), 'DEPENDENCY_MISSING');
  });
});
