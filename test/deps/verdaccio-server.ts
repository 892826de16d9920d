/**
 * Runs verdaccio (a real npm registry) in its own process, offline: no uplinks, storage in a folder the caller
 * prepared, and optionally the vouch-fixture middleware plugin (keys and attestations routes). Prints
 * `{"url": ...}` on one line once it listens on 127.0.0.1 (port 0: any free port). Usage:
 *   node test/deps/verdaccio-server.ts STORAGE [FIXTURE_DIR]
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { runServer } = require('verdaccio') as { runServer: (c: unknown) => Promise<import('node:http').Server> };
const [storage, fixture] = process.argv.slice(2) as [string, string | undefined];

const app = await runServer({
  self_path: join(storage, 'config.yaml'),
  storage,
  plugins: join(import.meta.dirname, 'plugins'),
  uplinks: {},
  packages: {
    '@*/*': { access: '$all', publish: '$anonymous $authenticated', unpublish: '$all' },
    '**': { access: '$all', publish: '$anonymous $authenticated', unpublish: '$all' },
  },
  ...(fixture ? { middlewares: { 'vouch-fixture': { enabled: true, dir: fixture } } } : {}),
  log: { type: 'stdout', format: 'pretty', level: 'fatal' },
  max_body_size: '100mb',
  web: { enable: false },
});
app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(app.address() as AddressInfo).port}/` })}\n`);
});
process.on('SIGTERM', () => app.close(() => process.exit(0)));
