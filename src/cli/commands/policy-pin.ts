/** `vouch policy pin URL --policy-digest D`: fetch once, check the digest and that it loads, record the pin. */
import { pinPolicy } from '../../instance/policies.ts';
import { parsePolicy } from '../../policy/load.ts';
import { defineCommand } from '../run.ts';

export default defineCommand({
  async run([url]: [string], o: { policyDigest: string }): Promise<{ url: string; digest: string }> {
    const p = await pinPolicy(url, o.policyDigest);
    parsePolicy(p.text, p.source);
    return { url, digest: p.digest };
  },
  human: (r) => [`Pinned ${r.url} at ${r.digest}`],
});
