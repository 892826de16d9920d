/** Child process of bench/log.ts: a log-only stack on 127.0.0.1:0; argv: DATA_DIR MAX_BATCH [POSTGRES_URL]. Prints its URL. */
import { serve } from '../src/server/serve.ts';

const [dataDir, maxBatch, pgUrl] = process.argv.slice(2);
const s = await serve({
  dataDir: dataDir!,
  port: 0,
  services: { ca: false, tsa: false, oidc: false },
  tlog: { maxBatch: Number(maxBatch ?? 1000) },
  ...(pgUrl ? { storage: { kind: 'postgres' as const, url: pgUrl } } : {}),
});
process.stdout.write(`${s.stack.urls.tlog}\n`);
await s.stopped;
