/**
 * `vouch policy init --from BUNDLE [--from ...] [--threshold K]`: pin on first use. Each bundle is verified first
 * (never pin a forgery), then the strictest policy its signers meet is printed as YAML (src/policy/init.ts).
 */
import { stringify } from 'yaml';
import { VouchError } from '../../errors.ts';
import { type PolicyDocument, policyFromSignatures } from '../../policy/init.ts';
import { parsePolicy } from '../../policy/load.ts';
import { readKeyFile } from '../../sign/keys.ts';
import type { VerificationResult } from '../../verify/types.ts';
import { loadNamedTrust, loadTrust } from '../../workflow/verify.ts';
import { verifyBundleAlone } from '../../workflow/verify-policy.ts';
import { defineCommand, JsonText } from '../run.ts';

interface InitFlags {
  from: string[];
  threshold?: string;
  key?: string[];
  trustedRoot?: string;
}

export default defineCommand({
  async run(_args: [], o: InitFlags): Promise<{ document: PolicyDocument; yaml: string }> {
    let threshold: number | undefined;
    if (o.threshold !== undefined) {
      threshold = Number(o.threshold);
      if (!/^\d+$/.test(o.threshold)) throw new VouchError('USAGE', `--threshold ${o.threshold}: a whole number`);
    }
    const keys = await Promise.all((o.key ?? []).map(async (k) => ({ spki: await readKeyFile(k) })));
    const trust = o.trustedRoot
      ? await loadTrust({ trustedRoot: o.trustedRoot })
      : loadNamedTrust().map((t) => t.material);
    const signatures: { signer: VerificationResult['signer']; source: string; keyPem?: string }[] = [];
    for (const path of o.from) {
      const { result, keyPem } = await verifyBundleAlone(path, { keys, trust });
      signatures.push({ signer: result.signer, source: path, ...(keyPem ? { keyPem } : {}) });
    }
    const document = policyFromSignatures(signatures, threshold !== undefined ? { threshold } : {});
    const yaml = `# yaml-language-server: $schema=https://github.com/vouch/vouch/blob/main/docs/schemas/policy.schema.json\n${stringify(document, { lineWidth: 0 })}`;
    // What is written must load, with the same checks as every policy.
    parsePolicy(yaml, 'the generated policy');
    return { document, yaml };
  },
  human: (r) => new JsonText(r.yaml),
  json: (r) => r.document,
});
