/**
 * `vouch inspect FILE`: what a file is and what it carries, dispatched on its content (never its name): a PE image
 * (its Authenticode signatures and anomalies) or a Sigstore bundle (what it claims, not verified). Another kind is
 * another branch here and in `formatInspect` (src/cli/format/inspect.ts).
 */
import { open } from 'node:fs/promises';
import type { PeInspection } from '../../artifact/pe/index.ts';
import { fileError } from '../../core/digest.ts';
import { VouchError } from '../../errors.ts';
import type { BundleReport } from '../../workflow/inspect-bundle.ts';
import { formatInspect } from '../format/inspect.ts';
import { defineCommand } from '../run.ts';

export type InspectResult = PeInspection | BundleReport;

interface InspectFlags {
  /** PEM CA certificates Authenticode chains and timestamps are checked against. */
  authenticodeRoots?: string;
}

async function inspect(path: string, o: InspectFlags): Promise<InspectResult> {
  const head = await readHead(path, 64);
  // A bundle is a JSON object (a UTF-8 byte order mark and white space may come first).
  if (/^(\xef\xbb\xbf)?[ \t\r\n]*\{/.test(head.toString('latin1'))) {
    if (o.authenticodeRoots !== undefined) throw new VouchError('USAGE', '--authenticode-roots is for PE files');
    const { inspectBundleFile } = await import('../../workflow/inspect-bundle.ts');
    return inspectBundleFile(path);
  }
  const pe = await import('../../artifact/pe/index.ts');
  if (pe.hasMzMagic(head)) {
    const roots = o.authenticodeRoots === undefined ? undefined : await pe.loadAuthenticodeRoots(o.authenticodeRoots);
    const r = await pe.inspectPeFile(path, roots ? { roots } : {});
    if (r) return r;
  }
  throw new VouchError('TARGET_UNSUPPORTED', `${path} is neither a PE image nor a Sigstore bundle`);
}

async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw fileError(e, path);
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new VouchError('TARGET_UNSUPPORTED', `${path} is not a regular file`);
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export default defineCommand({
  run: ([file]: [string], flags: InspectFlags) => inspect(file, flags),
  human: formatInspect,
});
