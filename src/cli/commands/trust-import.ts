/** `vouch trust import FILE --name N`: check a Sigstore trusted root and store it under a name. */
import { readCappedText } from '../../core/read.ts';
import { vouchHome } from '../../instance/home.ts';
import { importTrustedRoot, MAX_TRUSTED_ROOT_BYTES, summarize, type TrustSummary } from '../../instance/truststore.ts';
import { formatTrustImport } from '../format/trust.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  async run([file]: [string], o: { name: string; force?: boolean }): Promise<TrustSummary> {
    const text = await readCappedText(file, { maxBytes: MAX_TRUSTED_ROOT_BYTES, code: 'TRUST_ROOT_INVALID' });
    return summarize(importTrustedRoot(vouchHome(), text, o.name, { force: Boolean(o.force) }));
  },
  human: formatTrustImport,
});
