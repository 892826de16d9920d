/**
 * `vouch inspect FILE`: what a file is and what it carries, dispatched on its content (never its name). PE images
 * are the one kind read now; another kind (bundles) is another branch of `inspect` and of `formatInspect`
 * (src/cli/format/inspect.ts).
 */
import { open } from 'node:fs/promises';
import type { PeInspection } from '../../artifact/pe/index.ts';
import { fileError } from '../../core/digest.ts';
import { VouchError } from '../../errors.ts';
import { formatInspect } from '../format/inspect.ts';
import { defineCommand } from '../run.ts';

export type InspectResult = PeInspection;

interface InspectFlags {
  /** PEM CA certificates Authenticode chains and timestamps are checked against. */
  authenticodeRoots?: string;
}

async function inspect(path: string, o: InspectFlags): Promise<InspectResult> {
  const head = await readHead(path, 64);
  const pe = await import('../../artifact/pe/index.ts');
  if (pe.hasMzMagic(head)) {
    const roots = o.authenticodeRoots === undefined ? undefined : await pe.loadAuthenticodeRoots(o.authenticodeRoots);
    const r = await pe.inspectPeFile(path, roots ? { roots } : {});
    if (r) return r;
  }
  throw new VouchError('TARGET_UNSUPPORTED', `${path} is not a PE image (inspect reads PE files)`);
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
