/** `vouch trust show`: the trusted roots `verify` uses when given no --trusted-root. */
import { vouchHome } from '../../instance/home.ts';
import { listTrustStore, summarize, type TrustSummary } from '../../instance/truststore.ts';
import { formatTrustShow } from '../format/trust.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  run: async (): Promise<TrustSummary[]> => listTrustStore(vouchHome()).map(summarize),
  human: formatTrustShow,
});
