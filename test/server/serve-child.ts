/** Child process for the crash test: runs `serve` on 127.0.0.1:0 over argv[2] and prints its URL as one JSON line. */
import { serve } from '../../src/server/serve.ts';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: serve-child.ts DATA_DIR');
const s = await serve({ dataDir, port: 0 });
process.stdout.write(`${JSON.stringify({ url: s.stack.url, tlog: s.stack.urls.tlog })}\n`);
await s.stopped;
process.stdout.write('stopped\n');
