// Build: the library with tsc (dist/lib, with .d.ts) and the CLI as one esbuild bundle with lazily loaded chunks
// (dist/cli), so a cold `vouch verify` does not resolve hundreds of module files.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
await build({
  // The hashing worker is its own entry: src/artifact/dir/pool.ts starts it from beside the chunk that loads it.
  entryPoints: { main: 'src/cli/main.ts', 'hash-worker': 'src/artifact/dir/hash-worker.ts' },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  outExtension: { '.js': '.mjs' },
  packages: 'bundle',
  // Optional dependencies stay outside the bundle: loaded from node_modules when a command needs them, and a clear
  // DEPENDENCY_MISSING when they were not installed (pg: only `vouch serve --postgres`).
  external: ['pg'],
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __vouchCreateRequire } from 'node:module'; const require = __vouchCreateRequire(import.meta.url);",
  },
});
