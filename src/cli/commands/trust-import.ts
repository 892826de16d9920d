/** `vouch trust import FILE --name N`: check a Sigstore trusted root and store it under a name. */
import { readFile } from 'node:fs/promises';
import { fileError } from '../../core/digest.ts';
import { vouchHome } from '../../instance/home.ts';
import { importTrustedRoot, summarize, type TrustSummary } from '../../instance/truststore.ts';
import { formatTrustImport } from '../format/trust.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  async run([file]: [string], o: { name: string; force?: boolean }): Promise<TrustSummary> {
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw fileError(e, file);
    });
    return summarize(importTrustedRoot(vouchHome(), text, o.name, { force: Boolean(o.force) }));
  },
  human: formatTrustImport,
});
